/**
 * Loading the effective configuration: defaults < file < environment < flags, validated by
 * configSchema, with every problem reported as a ConfigError naming the key, value and source.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { REDACTED } from './errors.ts';
import type { ConfigError, ConfigErrorCode, ConfigSource } from './errors.ts';
import { readConfigFile } from './file.ts';
import type { ConfigFile, ReadFile } from './file.ts';
import { configKeys, configRoot, isSection, keyById, lookupPath } from './keys.ts';
import type { ConfigKey, ConfigSection } from './keys.ts';
import { overridesFromEnv, parseConfigArgs } from './overrides.ts';
import type { ConfigFlagName, Override } from './overrides.ts';
import { CONFIG_RULES, IMPLIED_DEFAULTS, MUTUALLY_EXCLUSIVE, ORDERED, configSchema } from './schema.ts';
import type { Config } from './schema.ts';
import { closest } from './suggest.ts';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.ts';

export type LoadConfigResult = { ok: true; config: Config } | { ok: false; errors: ConfigError[] };

export interface LoadConfigOptions {
  /** Options after the subcommand, e.g. ["--config", "c.yaml", "--listen", "0.0.0.0:8080"]. */
  argv: readonly string[];
  /** Usually process.env; only KLE_* and the conventional variables are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** Relative config file names resolve against this. */
  cwd: string;
  /** Named flags the command accepts (default: all). */
  flags?: readonly ConfigFlagName[];
  /** Accept one positional FILE as the config file (check-config). */
  configFileArgument?: boolean;
  /** Injected for tests; default fs.readFileSync(path, "utf8"). */
  readFile?: ReadFile;
}

type Path = readonly (string | number)[];

const SECRETISH = /token|secret|password/i;

/** "source.include[1]", "server.maxBodyBytes". */
function formatKeyPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function getIn(value: unknown, path: Path): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Sets `path`, creating sections; leaves a non-object in the way alone so validation reports it. */
function setIn(root: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (next === undefined) node[segment] = {};
    else if (!isPlainObject(next)) return false;
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ''] = value;
  return true;
}

/** Where the value at a path came from: the nearest override, else the file, else the defaults. */
class Provenance {
  readonly #overrides = new Map<string, ConfigSource>();
  readonly #file: ConfigFile | undefined;
  readonly #fallback: ConfigSource;

  constructor(file: ConfigFile | undefined, fallback: ConfigSource) {
    this.#file = file;
    this.#fallback = fallback;
  }

  record(path: readonly string[], source: ConfigSource): void {
    this.#overrides.set(path.join('\0'), source);
  }

  sourceOf(path: Path): ConfigSource {
    for (let i = path.length; i > 0; i--) {
      const source = this.#overrides.get(path.slice(0, i).join('\0'));
      if (source !== undefined) return source;
    }
    const inFile = this.#file !== undefined && getIn(this.#file.value, path) !== undefined;
    if (!inFile) {
      // A key nobody set (say, server.tls.keyFile missing): blame whoever set its siblings.
      const parent = path.slice(0, -1).join('\0');
      for (const [key, source] of this.#overrides) if (parent !== '' && key.startsWith(`${parent}\0`)) return source;
    }
    if (this.#file === undefined) return this.#fallback;
    return { kind: 'file', file: this.#file.file, ...this.#file.locate(path) };
  }
}

/** Schema facts about a path that may point inside a list or map leaf. */
function describePath(path: Path): { key?: ConfigKey; section?: ConfigSection; element: boolean } {
  const found = lookupPath(path.map(String));
  if (found !== undefined) {
    if (isSection(found.node)) return { section: found.node, element: false };
    return { key: found.node, element: found.depth < path.length };
  }
  // Inside a list: "source.include[1]".
  const parent = lookupPath(path.slice(0, -1).map(String));
  if (parent !== undefined && !isSection(parent.node)) return { key: parent.node, element: true };
  return { element: false };
}

function shownValue(path: Path, value: unknown, key: ConfigKey | undefined): unknown {
  if (value === undefined) return undefined;
  if (key?.secret === true) return REDACTED;
  if (path.some((segment) => typeof segment === 'string' && SECRETISH.test(segment))) return REDACTED;
  return value;
}

function unknownKeyError(parentPath: Path, name: string, raw: unknown, provenance: Provenance): ConfigError {
  const path = [...parentPath, name];
  const parent = lookupPath(parentPath.map(String));
  const siblings = parent !== undefined && isSection(parent.node) ? [...parent.node.children.keys()] : [];
  const parentId = formatKeyPath(parentPath);
  let suggestion: string | undefined;
  const sibling = closest(name, siblings);
  if (sibling !== undefined) suggestion = parentId === '' ? sibling : `${parentId}.${sibling}`;
  else {
    // The right key in the wrong section ("listen" at the top, "server.podsDir").
    const elsewhere = [...configKeys, ...sections()].find((node) => node.path.length > 0 && closest(name, [node.path[node.path.length - 1] ?? ''], 0) !== undefined);
    suggestion = elsewhere?.id;
  }
  const value = getIn(raw, path);
  return {
    code: 'unknown_key',
    path: formatKeyPath(path),
    // Whole unknown sections are not echoed: they may hold anything.
    value: isPlainObject(value) || Array.isArray(value) ? undefined : shownValue(path, value, keyById(suggestion ?? '')),
    expected: parentId === '' ? `a section: ${siblings.join(', ')}` : `a key of ${parentId}: ${siblings.join(', ')}`,
    source: provenance.sourceOf(path),
    message: suggestion === undefined ? 'unknown key' : `unknown key, did you mean "${suggestion}"?`,
  };
}

function sections(): ConfigSection[] {
  const out: ConfigSection[] = [];
  const visit = (section: ConfigSection) => {
    out.push(section);
    for (const child of section.children.values()) if (isSection(child)) visit(child);
  };
  visit(configRoot);
  return out;
}

const CUSTOM_CODES: Partial<Record<string, ConfigErrorCode>> = { duration: 'bad_duration', size: 'bad_size', listen: 'bad_listen' };

function issueToErrors(issue: z.core.$ZodIssue, raw: unknown, provenance: Provenance): ConfigError[] {
  const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  if (issue.code === 'unrecognized_keys') return issue.keys.map((name) => unknownKeyError(path, name, raw, provenance));
  const { key, section, element } = describePath(path);
  const value = getIn(raw, path);
  const expected = element ? 'a string' : (key?.expected ?? (section === undefined ? 'a valid value' : `a mapping of keys of ${section.id}`));
  const base = { path: formatKeyPath(path), value: shownValue(path, value, key), expected, source: provenance.sourceOf(path) };
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return [{ ...base, code: 'missing_key', message: 'required key is missing' }];
      return [{ ...base, code: 'wrong_type', message: 'wrong type' }];
    case 'invalid_value': {
      const suggestion = typeof value === 'string' ? closest(value, issue.values.map(String)) : undefined;
      return [{ ...base, code: 'bad_enum', message: suggestion === undefined ? 'bad value' : `bad value, did you mean "${suggestion}"?` }];
    }
    case 'too_small':
      if (issue.origin === 'string') return [{ ...base, code: 'bad_value', message: 'must not be empty' }];
      return [{ ...base, code: 'out_of_range', message: 'out of range' }];
    case 'too_big':
      return [{ ...base, code: 'out_of_range', message: 'out of range' }];
    case 'custom': {
      const params = issue.params as { expected?: string } | undefined;
      const code = CUSTOM_CODES[key?.kind ?? ''] ?? 'bad_value';
      return [{ ...base, code, expected: params?.expected ?? expected, message: issue.message }];
    }
    default:
      return [{ ...base, code: 'bad_value', message: issue.message }];
  }
}

/** Checks zod cannot express per key: pairs that exclude each other, pairs in order (backoff.initial <= backoff.max, ...). */
function crossKeyErrors(raw: unknown, provenance: Provenance): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const [first, second] of MUTUALLY_EXCLUSIVE) {
    const a = keyById(first);
    const b = keyById(second);
    if (a === undefined || b === undefined) throw new Error(`MUTUALLY_EXCLUSIVE names an unknown key: ${first} / ${second}`);
    const value = getIn(raw, a.path);
    if (value !== undefined && getIn(raw, b.path) !== undefined) {
      errors.push({ code: 'mutually_exclusive', path: a.id, value: shownValue(a.path, value, a), expected: `only one of ${a.id} and ${b.id}`, source: provenance.sourceOf(a.path), message: `cannot be set together with ${b.id}` });
    }
  }
  for (const [first, second] of ORDERED) {
    const error = orderError(first, second, raw, provenance);
    if (error !== undefined) errors.push(error);
  }
  return errors;
}

const ORDERED_KINDS = {
  duration: { parse: parseDuration, format: formatDuration, code: 'bad_duration', noun: 'duration', more: 'longer' },
  size: { parse: parseSize, format: formatSize, code: 'bad_size', noun: 'size', more: 'larger' },
} as const;

/** `first` (written or default) beyond `second`: the error, on `first`. Values that do not parse are reported by the schema. */
function orderError(first: string, second: string, raw: unknown, provenance: Provenance): ConfigError | undefined {
  const a = keyById(first);
  const b = keyById(second);
  if (a === undefined || b === undefined || a.kind !== b.kind || (a.kind !== 'duration' && a.kind !== 'size')) {
    throw new Error(`ORDERED names unknown keys or keys of different kinds: ${first} / ${second}`);
  }
  const kind = ORDERED_KINDS[a.kind];
  const firstValue = getIn(raw, a.path) ?? a.default;
  const x = kind.parse(firstValue);
  const y = kind.parse(getIn(raw, b.path) ?? b.default);
  if (!x.ok || !y.ok || x.value <= y.value) return undefined;
  return {
    code: kind.code,
    path: a.id,
    value: firstValue,
    expected: `a ${kind.noun} no ${kind.more} than ${b.id}, which is ${kind.format(y.value)}`,
    source: provenance.sourceOf(a.path),
    message: `bad ${kind.noun}: ${kind.more} than ${b.id}`,
  };
}

/** CONFIG_RULES on the parsed configuration, each problem on its key (value and source from what was written). */
function ruleErrorsOf(config: Config, raw: unknown, provenance: Provenance): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const rule of CONFIG_RULES) {
    const problem = rule(config);
    if (problem === undefined) continue;
    const key = keyById(problem.key);
    if (key === undefined) throw new Error(`CONFIG_RULES names an unknown key: ${problem.key}`);
    errors.push({ code: 'bad_value', path: key.id, value: shownValue(key.path, getIn(raw, key.path), key), expected: problem.expected, source: provenance.sourceOf(key.path), message: problem.message });
  }
  return errors;
}

/** IMPLIED_DEFAULTS on the keys not written. */
function applyImpliedDefaults(config: Config, raw: unknown): void {
  for (const implied of IMPLIED_DEFAULTS) {
    const key = keyById(implied.key);
    if (key === undefined) throw new Error(`IMPLIED_DEFAULTS names an unknown key: ${implied.key}`);
    const value = implied.value(config);
    if (value !== undefined && getIn(raw, key.path) === undefined) setIn(config as unknown as Record<string, unknown>, key.path, value);
  }
}

function validate(raw: unknown, provenance: Provenance, earlier: ConfigError[]): LoadConfigResult {
  const errors = [...earlier, ...crossKeyErrors(raw, provenance)];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) errors.push(...parsed.error.issues.flatMap((issue) => issueToErrors(issue, raw, provenance)));
  if (errors.length > 0) return { ok: false, errors };
  if (!parsed.success) throw new Error('unreachable: failed parse without errors');
  applyImpliedDefaults(parsed.data, raw);
  const ruleErrors = ruleErrorsOf(parsed.data, raw, provenance);
  if (ruleErrors.length > 0) return { ok: false, errors: ruleErrors };
  return { ok: true, config: parsed.data };
}

/**
 * Validates a plain object (as a config file would hold: durations as "60s", sizes as "1MiB")
 * against the schema and fills in defaults. `source` is reported in errors.
 */
export function parseConfig(value: unknown, source: ConfigSource = { kind: 'default' }): LoadConfigResult {
  return validate(value, new Provenance(undefined, source), []);
}

/** The configuration with nothing set: every default. */
export function defaultConfig(): Config {
  const result = parseConfig({});
  if (!result.ok) throw new Error(`config defaults are invalid: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.config;
}

/** Effective configuration from the file (--config), the environment and flags. */
export function loadConfig(options: LoadConfigOptions): LoadConfigResult {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const args = parseConfigArgs(options.argv, { allowed: options.flags, configFileArgument: options.configFileArgument });
  const env = overridesFromEnv(options.env);
  const errors: ConfigError[] = [];
  let file: ConfigFile | undefined;
  if (args.configFile !== undefined) {
    const read = readConfigFile(args.configFile.file, { cwd: options.cwd, readFile, named: args.configFile.source });
    if (read.ok) file = read.file;
    else errors.push(...read.errors);
  }
  errors.push(...env.errors, ...args.errors);
  const raw: Record<string, unknown> = file === undefined ? {} : structuredClone(file.value);
  const provenance = new Provenance(file, { kind: 'default' });
  const apply = (override: Override) => {
    if (setIn(raw, override.path, override.value)) provenance.record(override.path, override.source);
  };
  env.overrides.forEach(apply);
  args.overrides.forEach(apply);
  return validate(raw, provenance, errors);
}
