/**
 * The live-tail page's static files (the repository's `ui/` folder, shipped in the package and the
 * image), read once when the app is built. They are served under `/ui/<version>/`, where the
 * version is a hash of every file: the URLs change whenever any file does, so each one can be
 * cached for good (`immutable`), and the modules' relative imports need no rewriting.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** From src/server/ui/ and from dist/server/ui/ alike. */
export const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface UiAsset {
  readonly body: Buffer;
  readonly type: string;
}

export interface UiAssets {
  /** The hash of every file: the path segment after /ui/. */
  readonly version: string;
  /** The page, its asset URLs filled in. */
  readonly index: Buffer;
  /** By file name, index.html excluded. */
  readonly files: ReadonlyMap<string, UiAsset>;
}

/** Values the page reads from its `<meta>` tags, so the service's constants are written once. */
export type PageSettings = Readonly<Record<string, string>>;

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

export function loadUiAssets(settings: PageSettings, dir: string = UI_DIR): UiAssets {
  const names = readdirSync(dir).filter((name) => TYPES[extname(name)] !== undefined).sort();
  const hash = createHash('sha256');
  const files = new Map<string, UiAsset>();
  let template: string | undefined;
  for (const name of names) {
    const body = readFileSync(join(dir, name));
    hash.update(name).update('\0').update(body).update('\0');
    if (name === 'index.html') template = body.toString('utf8');
    else files.set(name, { body, type: TYPES[extname(name)]! });
  }
  if (template === undefined) throw new Error(`the page's index.html is missing from ${dir}`);
  const version = hash.digest('base64url').slice(0, 16);
  const meta = Object.entries({ ...settings, base: `/ui/${version}/` })
    .map(([name, value]) => `<meta name="kle-${name}" content="${escapeAttribute(value)}">`)
    .join('\n    ');
  const index = Buffer.from(template.replaceAll('{{base}}', `/ui/${version}/`).replace('{{meta}}', meta), 'utf8');
  return { version, index, files };
}
