// Writes docs/configuration.md from the config schema (src/config). Run: npm run docs:config
// With --check, writes nothing and exits 1 when the committed file is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/index.ts';

const target = new URL('../docs/configuration.md', import.meta.url);
const generated = renderConfigDocs();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as out of date.
  }
  if (current !== generated) {
    console.error('docs/configuration.md is out of date; run: npm run docs:config');
    process.exitCode = 1;
  }
} else {
  writeFileSync(target, generated);
  console.log('wrote docs/configuration.md');
}
