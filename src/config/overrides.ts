/**
 * Environment variables and command-line flags turned into "overrides": a key path, a value
 * coerced from its string form by the key's kind, and where it came from.
 */
import { parseArgs } from 'node:util';
import { REDACTED } from './errors.ts';
import type { ConfigError, ConfigSource } from './errors.ts';
import { ENV_PREFIX, configKeys, isSection, keyById, keysByEnv, lookupPath } from './keys.ts';
import type { ConfigKey } from './keys.ts';
import { closest } from './suggest.ts';

export interface Override {
  path: readonly string[];
  value: unknown;
  source: ConfigSource;
}

/** Splits "a,b" but not inside braces, so globs like "**\/*.{log,gz}" survive. */
function splitList(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      items.push(text.slice(start, i));
      start = i + 1;
    }
  }
  items.push(text.slice(start));
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

/**
 * A string from the environment or a flag, converted to what the key's schema expects. Strings
 * that do not convert are passed on unchanged, so validation reports them with the key's wording.
 */
function coerceText(key: ConfigKey, text: string): unknown {
  switch (key.kind) {
    case 'boolean': return text === 'true' ? true : text === 'false' ? false : text;
    case 'integer':
    case 'number': return /^-?\d+(?:\.\d+)?$/.test(text.trim()) ? Number(text) : text;
    case 'stringList': return splitList(text);
    case 'objectList': {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    }
    case 'stringMap': {
      const map: Record<string, string> = {};
      for (const pair of splitList(text)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) return text;
        map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return map;
    }
    default: return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Environment

/** Conventional variables (Kubernetes downward API, kubectl), weaker than the KLE_* ones. */
export const CONVENTIONAL_ENV: readonly { name: string; key: string }[] = [
  { name: 'KUBECONFIG', key: 'kubernetes.kubeconfig' },
  { name: 'NODE_NAME', key: 'kubernetes.nodeName' },
  { name: 'POD_UID', key: 'source.selfPodUid' },
  { name: 'POD_NAME', key: 'source.selfPodName' },
];

// Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_PORT... for a Service named "kle": not ours.
const SERVICE_LINK = /^KLE_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT(?:_\w+)?)$/;

/** Empty variables count as unset (Kubernetes renders optional values that way). */
export function overridesFromEnv(env: Readonly<Record<string, string | undefined>>): { overrides: Override[]; errors: ConfigError[] } {
  const overrides: Override[] = [];
  const errors: ConfigError[] = [];
  for (const { name, key: id } of CONVENTIONAL_ENV) {
    const text = env[name];
    const key = keyById(id);
    if (text !== undefined && text !== '' && key !== undefined) overrides.push({ path: key.path, value: coerceText(key, text), source: { kind: 'env', name } });
  }
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(ENV_PREFIX) || text === undefined || text === '' || SERVICE_LINK.test(name)) continue;
    const key = keysByEnv.get(name);
    if (key === undefined) {
      const suggestion = closest(name, keysByEnv.keys());
      errors.push({
        code: 'unknown_env',
        path: '',
        value: undefined,
        expected: 'a variable listed in docs/configuration.md',
        source: { kind: 'env', name },
        message: suggestion === undefined ? 'unknown environment variable' : `unknown environment variable, did you mean ${suggestion}?`,
      });
      continue;
    }
    overrides.push({ path: key.path, value: coerceText(key, text), source: { kind: 'env', name } });
  }
  return { overrides, errors };
}

// ---------------------------------------------------------------------------------------------
// Flags

export type ConfigFlagName =
  | 'config' | 'set' | 'listen' | 'kubeconfig' | 'context' | 'node-name' | 'schema' | 'pods-dir'
  | 'data-dir' | 'sink' | 'service' | 'read-from' | 'deletion-delay' | 'log-level' | 'auth-token-file';

export interface ConfigFlag {
  name: ConfigFlagName;
  /** The key the flag sets; undefined for --config and --set. */
  key?: string;
  valueName: string;
  help: string;
}

export const CONFIG_FLAGS: readonly ConfigFlag[] = [
  { name: 'config', valueName: 'FILE', help: 'YAML or JSON config file' },
  { name: 'set', valueName: 'KEY=VALUE', help: 'set any key, e.g. --set source.rotateWait=10s (repeatable)' },
  { name: 'listen', key: 'server.listen', valueName: 'HOST:PORT', help: 'API and metrics address' },
  { name: 'auth-token-file', key: 'server.authTokenFile', valueName: 'FILE', help: 'file holding the API bearer token' },
  { name: 'kubeconfig', key: 'kubernetes.kubeconfig', valueName: 'FILE', help: 'kubeconfig file' },
  { name: 'context', key: 'kubernetes.context', valueName: 'NAME', help: 'kubeconfig context' },
  { name: 'node-name', key: 'kubernetes.nodeName', valueName: 'NAME', help: 'watch only the pods of this node' },
  { name: 'deletion-delay', key: 'kubernetes.deletionDelay', valueName: 'DURATION', help: 'how long deleted objects stay usable' },
  { name: 'schema', key: 'enrichment.schema', valueName: 'NAME', help: 'event schema: vector, fluentbit or otel' },
  { name: 'pods-dir', key: 'source.podsDir', valueName: 'DIR', help: 'pod log tree to tail' },
  { name: 'data-dir', key: 'source.dataDir', valueName: 'DIR', help: 'checkpoint directory' },
  { name: 'read-from', key: 'source.readFrom', valueName: 'WHERE', help: 'beginning or end, for files without a checkpoint' },
  { name: 'sink', key: 'source.sink', valueName: 'SINK', help: 'stdout, file:PATH or an http(s):// URL' },
  { name: 'service', key: 'source.service', valueName: 'URL', help: 'enrichment service URL (source command)' },
  { name: 'log-level', key: 'logging.level', valueName: 'LEVEL', help: 'fatal, error, warn, info, debug or trace' },
];

const ALL_FLAG_NAMES: readonly ConfigFlagName[] = CONFIG_FLAGS.map((flag) => flag.name);

export interface ParsedArgs {
  /** --config FILE or the check-config FILE argument. */
  configFile?: { file: string; source: ConfigSource };
  overrides: Override[];
  errors: ConfigError[];
}

const SECRETISH = /token|secret|password/i;

/** `--set a.b.c=value` -> an override, or an error naming the key. */
function parseSet(assignment: string): Override | ConfigError {
  const eq = assignment.indexOf('=');
  const keyText = eq < 0 ? assignment : assignment.slice(0, eq);
  const flag = `--set ${keyText}`;
  if (eq <= 0) {
    return { code: 'bad_argument', path: '', value: assignment, expected: 'KEY=VALUE such as source.rotateWait=10s', source: { kind: 'flag', flag: '--set' }, message: '--set needs KEY=VALUE' };
  }
  const text = assignment.slice(eq + 1);
  const path = keyText.split('.');
  const found = lookupPath(path);
  if (found === undefined) {
    const suggestion = closest(keyText, configKeys.map((key) => key.id));
    // A mistyped secret key ("authTokn") still holds a secret.
    const secret = SECRETISH.test(keyText) || keyById(suggestion ?? '')?.secret === true;
    return {
      code: 'unknown_key',
      path: keyText,
      value: secret ? REDACTED : text,
      expected: 'a key listed in docs/configuration.md',
      source: { kind: 'flag', flag },
      message: suggestion === undefined ? 'unknown key' : `unknown key, did you mean "${suggestion}"?`,
    };
  }
  const { node, depth } = found;
  if (isSection(node)) {
    const first = [...node.children.values()][0];
    return { code: 'bad_argument', path: keyText, value: text, expected: `one of its keys, such as ${first?.id ?? node.id}`, source: { kind: 'flag', flag }, message: 'is a section, not a key' };
  }
  if (depth < path.length) {
    // A string-map entry: the rest of the path (dots included) is the map key.
    return { path: [...node.path, path.slice(depth).join('.')], value: text, source: { kind: 'flag', flag } };
  }
  return { path: node.path, value: coerceText(node, text), source: { kind: 'flag', flag } };
}

/**
 * Parses the options after the subcommand. `allowed` limits the named flags (per subcommand);
 * `configFileArgument` accepts one positional FILE (check-config).
 */
export function parseConfigArgs(argv: readonly string[], options: { allowed?: readonly ConfigFlagName[]; configFileArgument?: boolean } = {}): ParsedArgs {
  const allowed = new Set(options.allowed ?? ALL_FLAG_NAMES);
  const parseOptions = Object.fromEntries(CONFIG_FLAGS.map((flag) => [flag.name, { type: 'string' as const, multiple: true }]));
  const { tokens } = parseArgs({ args: [...argv], options: parseOptions, strict: false, allowPositionals: true, tokens: true });
  const result: ParsedArgs = { overrides: [], errors: [] };
  let optionErrors = 0;
  let fileArgument: string | undefined;
  let fileFlag: string | undefined;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      // A stray value right after a bad option is that option's value: one error is enough.
      if (optionErrors > 0) continue;
      if (options.configFileArgument === true && fileArgument === undefined) {
        fileArgument = token.value;
      } else {
        result.errors.push({ code: 'bad_argument', path: '', value: token.value, expected: options.configFileArgument === true ? 'a single FILE' : 'no arguments, only options', source: { kind: 'argument' }, message: 'unexpected argument' });
      }
      continue;
    }
    const flag = CONFIG_FLAGS.find((candidate) => candidate.name === token.name);
    if (flag === undefined || !allowed.has(flag.name) || token.rawName.length === 2) {
      optionErrors++;
      const suggestion = closest(token.name, allowed);
      const known = flag !== undefined && token.rawName.length > 2;
      result.errors.push({
        code: 'unknown_flag',
        path: '',
        value: undefined,
        expected: 'an option listed by --help',
        source: { kind: 'flag', flag: token.rawName },
        message: known ? 'option not accepted by this command' : suggestion === undefined ? 'unknown option' : `unknown option, did you mean --${suggestion}?`,
      });
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('--'))) {
      optionErrors++;
      const key = flag.key === undefined ? undefined : keyById(flag.key);
      result.errors.push({ code: 'missing_flag_value', path: '', value: undefined, expected: key?.expected ?? flag.valueName, source: { kind: 'flag', flag: token.rawName }, message: 'missing value' });
      continue;
    }
    if (flag.name === 'config') {
      fileFlag = value;
    } else if (flag.name === 'set') {
      const parsed = parseSet(value);
      if ('code' in parsed) result.errors.push(parsed);
      else result.overrides.push(parsed);
    } else if (flag.key !== undefined) {
      const key = keyById(flag.key);
      if (key === undefined) throw new Error(`flag --${flag.name} names the unknown key ${flag.key}`);
      result.overrides.push({ path: key.path, value: coerceText(key, value), source: { kind: 'flag', flag: token.rawName } });
    }
  }
  if (options.configFileArgument === true) {
    // `check-config FILE`; `check-config --config FILE` means the same.
    if (fileFlag !== undefined && fileArgument !== undefined) {
      result.errors.push({ code: 'bad_argument', path: '', value: fileFlag, expected: 'one config file, given as the FILE argument', source: { kind: 'flag', flag: '--config' }, message: '--config cannot be combined with the FILE argument' });
    } else if (fileArgument !== undefined) {
      result.configFile = { file: fileArgument, source: { kind: 'argument' } };
    } else if (fileFlag !== undefined) {
      result.configFile = { file: fileFlag, source: { kind: 'flag', flag: '--config' } };
    } else if (optionErrors === 0) {
      result.errors.push({ code: 'bad_argument', path: '', value: undefined, expected: 'a FILE argument', source: { kind: 'argument' }, message: 'missing config file argument' });
    }
  } else if (fileFlag !== undefined) {
    result.configFile = { file: fileFlag, source: { kind: 'flag', flag: '--config' } };
  }
  return result;
}
