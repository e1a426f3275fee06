/**
 * The output layout of a schema: a tree of fields, some filled per line (message, timestamp,
 * stream, file) and the rest from pod metadata. Renames are applied once, at construction.
 *
 * The hot path never walks this tree. For each metadata state (pod, namespace and node versions
 * of one file) the tree is rendered once into a Template: the JSON text with holes for the
 * per-line values, so that one output line is `parts[0] + v0 + parts[1] + v1 + ... + tail`.
 */
import type { ContainerMeta, Labels, NamespaceMeta, NodeMeta, PodMeta } from '../store/types.ts';
import type { PodLogIdentity } from '../paths/types.ts';
import type { PendingMetadata, UnmatchedReason } from './types.ts';
import type { MetadataMaps } from './field-rules.ts';
import type { Workload } from './derive.ts';

/**
 * Per-line values in a reusable array indexed by slot. The message is JSON-encoded; timestamps
 * are raw (validated RFC 3339 or digits: their quotes are part of the template). Stream and file
 * are fixed per template (a template belongs to one file and one stream), so they have no hole.
 */
export const SLOT_MESSAGE = 0;
export const SLOT_STREAM = 1;
export const SLOT_FILE = 2;
/** The runtime's timestamp in UTC (`...Z`). */
export const SLOT_TIMESTAMP_UTC = 3;
/** The runtime's timestamp as written. */
export const SLOT_TIMESTAMP_RAW = 4;
/** Nanoseconds since the epoch of the line's timestamp (digits). */
export const SLOT_TIME_NANOS = 5;
/** Nanoseconds since the epoch when the enricher saw the line (digits). */
export const SLOT_OBSERVED_NANOS = 6;
export const SLOT_COUNT = 7;

/** Slots whose values are written inside quotes the template provides. */
const QUOTED_SLOTS: readonly boolean[] = [false, false, false, true, true, true, true];

/** Everything metadata fields are computed from: one file's state at one moment. */
export interface MetaContext {
  identity: PodLogIdentity | undefined;
  reason: UnmatchedReason | undefined;
  /** What is missing only because it is not synced yet; undefined when nothing is. */
  pending: readonly PendingMetadata[] | undefined;
  pod: PodMeta | undefined;
  container: ContainerMeta | undefined;
  namespace: NamespaceMeta | undefined;
  node: NodeMeta | undefined;
  workload: Workload | undefined;
  /** The label and annotation maps as the output carries them (field-rules.ts). */
  maps: MetadataMaps;
  /** `enrichment.clusterName`, or undefined. */
  clusterName: string | undefined;
}

export type MetaValue = string | readonly string[] | Labels | undefined;

export interface LineField {
  kind: 'line';
  path: readonly string[];
  slot: number;
}

export interface MetaField {
  kind: 'meta';
  path: readonly string[];
  value: (c: MetaContext) => MetaValue;
}

/** A map spread into its parent object as `<prefix><key>` members (OpenTelemetry's label attributes). */
export interface SpreadField {
  kind: 'spread';
  path: readonly string[];
  prefix: string;
  value: (c: MetaContext) => Labels | undefined;
}

export type Field = LineField | MetaField | SpreadField;

export const line = (path: readonly string[], slot: number): LineField => ({ kind: 'line', path, slot });
export const meta = (path: readonly string[], value: (c: MetaContext) => MetaValue): MetaField => ({ kind: 'meta', path, value });
export const spread = (path: readonly string[], prefix: string, value: (c: MetaContext) => Labels | undefined): SpreadField => ({
  kind: 'spread',
  path,
  prefix,
  value,
});

/** A configuration the enricher cannot work with; thrown at construction, never per event. */
export class EnrichConfigError extends Error {
  readonly code: 'invalid_rename' | 'invalid_field_rule' | 'invalid_parse_json';
  constructor(code: 'invalid_rename' | 'invalid_field_rule' | 'invalid_parse_json', message: string) {
    super(message);
    this.name = 'EnrichConfigError';
    this.code = code;
  }
}

interface ObjectNode {
  kind: 'object';
  entries: ({ key: string; keyJson: string; node: Node } | { spread: SpreadField })[];
  byKey: Map<string, Node>;
}
type Node = ObjectNode | LineField | MetaField;

export interface Layout {
  readonly root: ObjectNode;
  /** Output keys at the top level: a pass-through field of the same name is not copied. */
  readonly topLevelKeys: ReadonlySet<string>;
  /** Which per-line slots the layout uses, so the others are not computed. */
  readonly usesSlot: readonly boolean[];
}

/** How a field is named in rename rules and error messages. */
export function fieldName(f: Field): string {
  const base = f.path.join('.');
  return f.kind === 'spread' ? `${base === '' ? '' : base + '.'}${f.prefix}*` : base;
}

/** `a.b."c.d"` → ['a', 'b', 'c.d']. */
export function parsePath(path: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i <= path.length) {
    let segment: string;
    if (path[i] === '"') {
      const close = path.indexOf('"', i + 1);
      if (close === -1) return undefined;
      segment = path.slice(i + 1, close);
      i = close + 1;
      if (i < path.length && path[i] !== '.') return undefined;
    } else {
      const dot = path.indexOf('.', i);
      const end = dot === -1 ? path.length : dot;
      segment = path.slice(i, end);
      if (segment.includes('"')) return undefined;
      i = end;
    }
    if (segment === '') return undefined;
    out.push(segment);
    i++; // past the dot (or past the end)
  }
  return out;
}

/** How many leading segments of `path` the rename source names (0: none). */
function matchLength(path: readonly string[], from: string): number {
  let joined = '';
  for (let k = 0; k < path.length; k++) {
    joined = k === 0 ? path[0]! : joined + '.' + path[k]!;
    if (joined === from) return k + 1;
    if (!from.startsWith(joined + '.')) return 0;
  }
  return 0;
}

/**
 * The renamed path, or null when the field is dropped (empty target). A target keeping the
 * field's parent (`resource.k8s.pod.name` → `resource.pod`) names one key in that parent, dots
 * and all, which is what flat attribute maps need; elsewhere dots nest and quotes protect.
 */
function renamedPath(path: readonly string[], k: number, to: string): string[] | null | undefined {
  if (to === '') return null;
  const parent = path.slice(0, k - 1);
  const parentJoined = parent.join('.');
  let head: string[] | undefined;
  if (parent.length > 0 && to.startsWith(parentJoined + '.') && !to.includes('"')) {
    const rest = to.slice(parentJoined.length + 1);
    head = rest === '' ? undefined : [...parent, rest];
  } else {
    head = parsePath(to);
  }
  return head === undefined ? undefined : [...head, ...path.slice(k)];
}

/** Applies renames to a schema's fields and builds the tree; throws EnrichConfigError. */
export function compileLayout(fields: readonly Field[], rename: Readonly<Record<string, string>>): Layout {
  const paths: (readonly string[] | null)[] = fields.map((f) => f.path);
  const best = fields.map(() => 0);
  for (const [from, to] of Object.entries(rename)) {
    if (typeof to !== 'string') throw new EnrichConfigError('invalid_rename', `rename "${from}": the target must be a string`);
    let matched = false;
    fields.forEach((f, i) => {
      const k = matchLength(f.path, from);
      if (k === 0) return;
      matched = true;
      if (k <= best[i]!) return; // a more specific rule already applies
      const renamed = renamedPath(f.path, k, to);
      if (renamed === undefined) {
        throw new EnrichConfigError('invalid_rename', `rename "${from}": target "${to}" is not a valid dotted path (empty segment or unbalanced quote)`);
      }
      best[i] = k;
      paths[i] = renamed;
    });
    if (!matched) {
      const known = [...new Set(fields.map(fieldName))].join(', ');
      throw new EnrichConfigError('invalid_rename', `rename "${from}": no output field has that path; the fields of this schema are: ${known}`);
    }
  }

  const root: ObjectNode = { kind: 'object', entries: [], byKey: new Map() };
  const usesSlot: boolean[] = new Array<boolean>(SLOT_COUNT).fill(false);
  fields.forEach((f, i) => {
    const path = paths[i];
    if (path === null || path === undefined) return;
    const objectPath = f.kind === 'spread' ? path : path.slice(0, -1);
    let parent = root;
    for (const [depth, key] of objectPath.entries()) {
      const existing = parent.byKey.get(key);
      if (existing === undefined) {
        const child: ObjectNode = { kind: 'object', entries: [], byKey: new Map() };
        parent.byKey.set(key, child);
        parent.entries.push({ key, keyJson: JSON.stringify(key), node: child });
        parent = child;
      } else if (existing.kind === 'object') {
        parent = existing;
      } else {
        throw new EnrichConfigError('invalid_rename', `"${objectPath.slice(0, depth + 1).join('.')}" would be both a value and an object; check the renames`);
      }
    }
    if (f.kind === 'spread') {
      parent.entries.push({ spread: f });
      return;
    }
    const key = path[path.length - 1]!;
    const existing = parent.byKey.get(key);
    if (existing !== undefined) {
      throw new EnrichConfigError(
        'invalid_rename',
        existing.kind === 'object'
          ? `"${path.join('.')}" would be both a value and an object; check the renames`
          : `two output fields end up at "${path.join('.')}"; check the renames`,
      );
    }
    parent.byKey.set(key, f);
    parent.entries.push({ key, keyJson: JSON.stringify(key), node: f });
    if (f.kind === 'line') usesSlot[f.slot] = true;
  });
  return { root, topLevelKeys: new Set(root.byKey.keys()), usesSlot };
}

/**
 * One output line's text with holes: `parts[0] + values[slots[0]] + parts[1] + ... + parts[n]`,
 * where the last part stops before the root object's closing brace (pass-through fields go there);
 * the closed tail is that last part with the brace, for the common line without pass-through fields.
 *
 * A file keeps its templates for as long as it is followed (2,000 files: 2,000 or more of them),
 * so a template is held once, as UTF-8 in one buffer of its own size: records are written as bytes
 * (record.ts), and the text forms are decoded only when a caller asks for a record's text. Its own
 * buffer, not slices of Node's shared 64 KiB pool, which a long-lived slice would pin whole.
 */
export class Template {
  readonly slots: readonly number[];
  /** The root object has no member (every field renamed away): no comma before pass-through. */
  readonly empty: boolean;
  /** The parts as UTF-8 (views of one buffer). */
  readonly partBytes: readonly Buffer[];
  /** The last part and the closing brace. */
  readonly closedTailBytes: Buffer;
  /** Bytes of the parts and the closed tail together: what a line adds beyond its values. */
  readonly fixedBytes: number;
  #text: { parts: readonly string[]; closedTail: string } | undefined;

  constructor(parts: readonly string[], slots: readonly number[], empty: boolean) {
    this.slots = slots;
    this.empty = empty;
    let size = 1;
    for (const p of parts) size += Buffer.byteLength(p, 'utf8');
    const all = Buffer.allocUnsafeSlow(size);
    const partBytes: Buffer[] = [];
    let at = 0;
    for (const p of parts) {
      const end = at + all.write(p, at, 'utf8');
      partBytes.push(all.subarray(at, end));
      at = end;
    }
    all[at] = 0x7d; // }
    this.partBytes = partBytes;
    this.closedTailBytes = all.subarray(at - partBytes[partBytes.length - 1]!.length);
    this.fixedBytes = this.closedTailBytes.length;
    for (let i = 0; i < partBytes.length - 1; i++) this.fixedBytes += partBytes[i]!.length;
  }

  /** The parts as text (decoded on first use; each part is whole JSON tokens, so whole characters). */
  get parts(): readonly string[] {
    return this.#decoded().parts;
  }

  get closedTail(): string {
    return this.#decoded().closedTail;
  }

  #decoded(): { parts: readonly string[]; closedTail: string } {
    this.#text ??= { parts: this.partBytes.map((b) => b.toString('utf8')), closedTail: this.closedTailBytes.toString('utf8') };
    return this.#text;
  }
}

class TemplateBuilder {
  parts: string[] = [];
  slots: number[] = [];
  current = '';

  text(s: string): void {
    this.current += s;
  }

  hole(slot: number): void {
    this.parts.push(this.current);
    this.slots.push(slot);
    this.current = '';
  }

  append(other: TemplateBuilder): void {
    if (other.slots.length === 0) {
      this.current += other.current;
      return;
    }
    this.parts.push(this.current + other.parts[0]!);
    this.slots.push(other.slots[0]!);
    for (let i = 1; i < other.slots.length; i++) {
      this.parts.push(other.parts[i]!);
      this.slots.push(other.slots[i]!);
    }
    this.current = other.current;
  }
}

/** The values fixed for a template: its file's path and its lines' stream (undefined: left out). */
export interface FixedValues {
  /** `"stdout"` / `"stderr"`, JSON-encoded. */
  streamJson: string | undefined;
  fileJson: string | undefined;
  /** The message field is left out (a message parsed as JSON, enrichment.parseJson.keepMessage false). */
  omitMessage: boolean;
}

function renderObject(node: ObjectNode, ctx: MetaContext, fixed: FixedValues, out: TemplateBuilder): boolean {
  const body = new TemplateBuilder();
  body.text('{');
  let members = 0;
  for (const entry of node.entries) {
    if ('spread' in entry) {
      const map = entry.spread.value(ctx);
      if (map === undefined) continue;
      for (const key in map) {
        body.text((members++ === 0 ? '' : ',') + JSON.stringify(entry.spread.prefix + key) + ':' + JSON.stringify(map[key]));
      }
      continue;
    }
    const child = entry.node;
    if (child.kind === 'line') {
      if (child.slot === SLOT_MESSAGE && fixed.omitMessage) continue;
      const value = child.slot === SLOT_STREAM ? fixed.streamJson : child.slot === SLOT_FILE ? fixed.fileJson : '';
      if (value === undefined) continue;
      body.text((members++ === 0 ? '' : ',') + entry.keyJson + ':');
      if (value !== '') body.text(value);
      else if (QUOTED_SLOTS[child.slot]) {
        body.text('"');
        body.hole(child.slot);
        body.text('"');
      } else body.hole(child.slot);
    } else if (child.kind === 'meta') {
      const value = child.value(ctx);
      if (value === undefined) continue;
      body.text((members++ === 0 ? '' : ',') + entry.keyJson + ':' + JSON.stringify(value));
    } else {
      const sub = new TemplateBuilder();
      if (!renderObject(child, ctx, fixed, sub)) continue;
      body.text((members++ === 0 ? '' : ',') + entry.keyJson + ':');
      body.append(sub);
    }
  }
  body.text('}');
  if (members === 0) return false;
  out.append(body);
  return true;
}

/** Renders the layout for one metadata state of one file and stream; done once, not per line. */
export function renderTemplate(layout: Layout, ctx: MetaContext, fixed: FixedValues): Template {
  const b = new TemplateBuilder();
  const empty = !renderObject(layout.root, ctx, fixed, b);
  if (empty) b.text('{}');
  // Leave the root's closing brace off: pass-through fields are appended before it.
  return new Template([...b.parts, b.current.slice(0, -1)], b.slots, empty);
}
