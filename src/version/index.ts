/** This package's version, from package.json, read once (same relative place from src/ and dist/). */
import { readFileSync } from 'node:fs';

export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
