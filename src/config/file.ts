/**
 * Reading a config file (YAML or JSON) into a plain object, keeping a way back from a key path
 * to its line and column so errors can point into the file.
 */
import { resolve, extname } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { ConfigError, ConfigSource } from './errors.ts';
import { configRoot } from './keys.ts';

export type ReadFile = (absolutePath: string) => string;

export interface ConfigFile {
  /** The file name as the user wrote it (for messages). */
  file: string;
  value: Record<string, unknown>;
  /** Line and column (1-based) of the key at `path`, or of its deepest ancestor present in the file. */
  locate(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

export type ConfigFileResult = { ok: true; file: ConfigFile } | { ok: false; errors: ConfigError[] };

const FILE_EXPECTED = 'a path to a readable YAML or JSON file';

function readError(file: string, named: ConfigSource, error: unknown): ConfigError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const base = { path: '', value: file, expected: FILE_EXPECTED, source: named };
  if (code === 'ENOENT' || code === 'ENOTDIR') return { ...base, code: 'file_not_found', message: 'config file not found' };
  if (code === 'EISDIR') return { ...base, code: 'file_unreadable', message: 'config file is a directory' };
  if (code === 'EACCES' || code === 'EPERM') return { ...base, code: 'file_unreadable', message: 'config file not readable: permission denied' };
  return { ...base, code: 'file_unreadable', message: `config file not readable: ${code ?? (error as Error).message}` };
}

function positionAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: Math.min(offset, text.length) - lineStart + 1 };
}

// Helm renders unset values as `key: null` (or an empty value): treat those as "not set".
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child !== null && child !== undefined) out[key] = dropNulls(child);
    }
    return out;
  }
  return value;
}

function locator(doc: Document | undefined, lines: LineCounter): ConfigFile['locate'] {
  return (path) => {
    if (doc === undefined) return undefined;
    let node: unknown = doc.contents;
    let offset: number | undefined;
    for (const segment of path) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (pair !== undefined) {
          offset = (pair.key as YamlNode).range?.[0] ?? offset;
          next = pair.value;
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item !== undefined) {
          offset = (item as YamlNode).range?.[0] ?? offset;
          next = item;
        }
      }
      if (next === undefined) break;
      node = next;
    }
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
}

function parseYaml(text: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  return { doc: parseDocument(text, { lineCounter: lines, prettyErrors: false }), lines };
}

/**
 * `.json` files are parsed as JSON; `.yaml`, `.yml` and anything else as YAML (a superset of JSON).
 * `named` is where the file name came from (the --config flag or the check-config argument).
 */
export function readConfigFile(file: string, options: { cwd: string; readFile: ReadFile; named: ConfigSource }): ConfigFileResult {
  let text: string;
  try {
    text = options.readFile(resolve(options.cwd, file));
  } catch (error) {
    return { ok: false, errors: [readError(file, options.named, error)] };
  }
  let value: unknown;
  let doc: Document | undefined;
  let lines = new LineCounter();
  if (extname(file).toLowerCase() === '.json') {
    try {
      value = JSON.parse(text);
    } catch (error) {
      const raw = (error as Error).message;
      const position = /at position (\d+)/.exec(raw);
      const offset = position === null ? (/end of JSON input/.test(raw) ? text.length : undefined) : Number(position[1]);
      // V8 quotes the input in some messages; never echo file contents (they may hold a token).
      const reason = raw.replace(/ in JSON at position.*$/, '').replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '');
      const at = offset === undefined ? {} : positionAt(text, offset);
      return { ok: false, errors: [{ code: 'invalid_json', path: '', value: undefined, expected: 'valid JSON', source: { kind: 'file', file, ...at }, message: `invalid JSON: ${reason}` }] };
    }
    // Positions for later errors: JSON is valid YAML; if this parse disagrees, go without positions.
    const parsed = parseYaml(text);
    if (parsed.doc.errors.length === 0) ({ doc, lines } = parsed);
  } else {
    ({ doc, lines } = parseYaml(text));
    const [first] = doc.errors;
    if (first !== undefined) {
      // Only the first: later YAML errors usually follow from it.
      const { line, col } = lines.linePos(first.pos[0]);
      return { ok: false, errors: [{ code: 'invalid_yaml', path: '', value: undefined, expected: 'valid YAML', source: { kind: 'file', file, line, column: col }, message: `invalid YAML: ${first.message}` }] };
    }
    value = doc.toJS({ maxAliasCount: 100 });
  }
  value = dropNulls(value ?? {});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    // The value itself is not shown: a token file passed as --config by mistake would be echoed.
    const kind = Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    const sections = [...configRoot.children.keys()].join(', ');
    return {
      ok: false,
      errors: [{ code: 'not_a_mapping', path: '', value: undefined, expected: `a mapping with the sections ${sections}`, source: { kind: 'file', file }, message: `config file must be a mapping of sections, not ${kind}` }],
    };
  }
  return { ok: true, file: { file, value: value as Record<string, unknown>, locate: locator(doc, lines) } };
}
