/**
 * The key table: configSchema walked once into plain data (path, kind, default, env name,
 * expected wording). The loader uses it to coerce environment/flag strings and to word errors;
 * the docs generator prints it.
 */
import { z } from 'zod';
import { DURATION_EXAMPLES, SIZE_EXAMPLES } from './units.ts';
import { LISTEN_EXAMPLES } from './listen.ts';
import { SINK_EXPECTED, configSchema, leafMeta } from './schema.ts';
import type { LeafKind } from './schema.ts';

export interface ConfigKey {
  readonly path: readonly string[];
  /** Dotted path, e.g. "server.maxBodyBytes". */
  readonly id: string;
  readonly kind: LeafKind;
  readonly description: string;
  /** Default as written in a config file ("60s"), or undefined when the key is optional. */
  readonly default: unknown;
  readonly secret: boolean;
  /** KLE_<SECTION>_<KEY>, upper snake case. */
  readonly env: string;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** What a valid value looks like, for error messages. */
  readonly expected: string;
  /** Short type for docs and help. */
  readonly typeLabel: string;
}

export interface ConfigSection {
  readonly path: readonly string[];
  readonly id: string;
  readonly description: string;
  readonly optional: boolean;
  readonly children: ReadonlyMap<string, ConfigSection | ConfigKey>;
}

export function isSection(node: ConfigSection | ConfigKey): node is ConfigSection {
  return 'children' in node;
}

export const ENV_PREFIX = 'KLE_';

function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function describeNumber(schema: z.ZodNumber, integer: boolean): { expected: string; typeLabel: string } {
  const min = schema.minValue;
  const max = schema.maxValue;
  const noun = integer ? 'an integer' : 'a number';
  const word = integer ? 'integer' : 'number';
  const hasMin = min !== null && Number.isFinite(min) && min > Number.MIN_SAFE_INTEGER;
  const hasMax = max !== null && Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return { expected: `${noun} from ${min} to ${max}`, typeLabel: `${word} ${min}..${max}` };
  if (hasMin) return { expected: `${noun} >= ${min}`, typeLabel: `${word} >= ${min}` };
  if (hasMax) return { expected: `${noun} <= ${max}`, typeLabel: `${word} <= ${max}` };
  return { expected: noun, typeLabel: word };
}

function describeLeaf(schema: z.ZodType, id: string): { kind: LeafKind; secret: boolean; expected: string; typeLabel: string; values?: readonly string[] } {
  const meta = leafMeta.get(schema);
  if (meta !== undefined) {
    const secret = meta.secret === true;
    switch (meta.kind) {
      case 'duration': return { kind: 'duration', secret, expected: `a duration such as ${DURATION_EXAMPLES}`, typeLabel: 'duration' };
      case 'size': return { kind: 'size', secret, expected: `a size such as ${SIZE_EXAMPLES}`, typeLabel: 'size' };
      case 'listen': return { kind: 'listen', secret, expected: `host:port such as ${LISTEN_EXAMPLES}`, typeLabel: 'host:port' };
      case 'sink': return { kind: 'sink', secret, expected: SINK_EXPECTED, typeLabel: 'sink' };
      case 'url': return { kind: 'url', secret, expected: 'an http:// or https:// URL such as "http://127.0.0.1:8080"', typeLabel: 'URL' };
      case 'string': return { kind: 'string', secret, expected: 'a non-empty string', typeLabel: 'string' };
      default: throw new Error(`config schema: leaf metadata kind ${meta.kind} at ${id} is not handled`);
    }
  }
  if (schema instanceof z.ZodString) return { kind: 'string', secret: false, expected: (schema.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string', typeLabel: 'string' };
  if (schema instanceof z.ZodBoolean) return { kind: 'boolean', secret: false, expected: 'true or false', typeLabel: 'boolean' };
  if (schema instanceof z.ZodNumber) {
    const integer = schema.isInt === true;
    return { kind: integer ? 'integer' : 'number', secret: false, ...describeNumber(schema, integer) };
  }
  if (schema instanceof z.ZodEnum) {
    const values = schema.options.map(String);
    return { kind: 'enum', secret: false, values, expected: `one of ${values.map((v) => `"${v}"`).join(', ')}`, typeLabel: values.join(' | ') };
  }
  if (schema instanceof z.ZodArray && schema.element instanceof z.ZodString) {
    return { kind: 'stringList', secret: false, expected: 'a list of strings', typeLabel: 'list of strings' };
  }
  if (schema instanceof z.ZodArray) {
    return { kind: 'objectList', secret: false, expected: 'a list of objects (JSON in the environment and in flags)', typeLabel: 'list of objects' };
  }
  if (schema instanceof z.ZodRecord) {
    return { kind: 'stringMap', secret: false, expected: 'a map of strings to strings', typeLabel: 'map of strings' };
  }
  throw new Error(`config schema: unsupported schema ${schema.constructor.name} at ${id}`);
}

function walk(schema: z.ZodType, path: readonly string[], leaves: ConfigKey[]): ConfigSection | ConfigKey {
  const id = path.join('.');
  let description: string | undefined;
  let defaultValue: unknown;
  let optional = false;
  let inner: z.ZodType = schema;
  // Peel wrappers: optional / prefault / default, keeping the outermost description.
  for (;;) {
    description ??= inner.description;
    if (inner instanceof z.ZodOptional) {
      optional = true;
      inner = inner.unwrap() as z.ZodType;
    } else if (inner instanceof z.ZodPrefault || inner instanceof z.ZodDefault) {
      defaultValue = inner.def.defaultValue;
      inner = inner.unwrap() as z.ZodType;
    } else {
      break;
    }
  }
  if (description === undefined && path.length > 0) throw new Error(`config schema: ${id} has no description`);
  if (inner instanceof z.ZodObject) {
    const children = new Map<string, ConfigSection | ConfigKey>();
    for (const [name, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      children.set(name, walk(child, [...path, name], leaves));
    }
    return { path, id, description: description ?? '', optional, children };
  }
  const leaf: ConfigKey = {
    path,
    id,
    description: description ?? '',
    default: optional ? undefined : defaultValue,
    env: envName(path),
    ...describeLeaf(inner, id),
  };
  leaves.push(leaf);
  return leaf;
}

function buildTable(): { root: ConfigSection; keys: readonly ConfigKey[]; byEnv: ReadonlyMap<string, ConfigKey> } {
  const keys: ConfigKey[] = [];
  const root = walk(configSchema, [], keys);
  if (!isSection(root)) throw new Error('config schema: the root must be an object');
  const byEnv = new Map<string, ConfigKey>();
  for (const key of keys) {
    const clash = byEnv.get(key.env);
    if (clash !== undefined) throw new Error(`config schema: ${key.id} and ${clash.id} share the variable ${key.env}`);
    byEnv.set(key.env, key);
  }
  return { root, keys, byEnv };
}

const table = buildTable();

/** Every leaf key, in schema order. */
export const configKeys: readonly ConfigKey[] = table.keys;
/** The root section (its children are kubernetes, server, ...). */
export const configRoot: ConfigSection = table.root;
export const keysByEnv: ReadonlyMap<string, ConfigKey> = table.byEnv;

/**
 * What the schema has at `path`: a section, a leaf, or (inside a string map) the map's leaf
 * with the rest of the path as the map key. Undefined when the path names nothing.
 */
export function lookupPath(path: readonly string[]): { node: ConfigSection | ConfigKey; depth: number } | undefined {
  let node: ConfigSection | ConfigKey = configRoot;
  for (let i = 0; i < path.length; i++) {
    if (!isSection(node)) return node.kind === 'stringMap' ? { node, depth: i } : undefined;
    const next = node.children.get(path[i] ?? '');
    if (next === undefined) return undefined;
    node = next;
  }
  return { node, depth: path.length };
}

export function keyById(id: string): ConfigKey | undefined {
  return configKeys.find((key) => key.id === id);
}
