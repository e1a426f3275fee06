#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (`npm run build` writes dist/).
// First, before the CLI's imports are loaded, keep `node:http` from loading the undici bundle
// (src/boot/http-exports.ts), then load the CLI with lighter stand-ins for some third-party
// imports (src/boot/slim-imports.ts); hence the dynamic import.
import '../dist/boot/http-exports.js';
import { importSlim } from '../dist/boot/slim-imports.js';

const { main } = await importSlim(() => import('../dist/cli/main.js'));
process.exitCode = await main(process.argv.slice(2));
