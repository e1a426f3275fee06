/**
 * The per-line hot path: raw event → decoded line → identity from the path → store lookup →
 * enriched event serialised in the configured schema.
 *
 * What keeps it cheap: a file's identity is parsed once; per line the store is asked for the
 * pod, namespace and node entries (three Map lookups) and only when one of their versions moved
 * is the metadata part re-rendered (layout.ts). An output line is then string concatenation of
 * that pre-rendered text with the JSON of the per-line values; JSON.stringify runs only for the
 * message and pass-through fields, and not even for the message of a Docker line, whose JSON
 * text is validated and kept (decodeLineKeepingJson), nor when its fragments are merged.
 */
import { decodeLineKeepingJson, isDecodeFailure, isRfc3339, PartialMerger } from '../formats/index.ts';
import type { DecodedLine, JsonMessageLine, MergedLine, Stream } from '../formats/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { podIdentityFromPath } from '../paths/index.ts';
import type { PodLogIdentity } from '../paths/index.ts';
import type { ContainerMeta, NamespaceMeta, NodeMeta, PodMeta, StoreEntry, StoreReader } from '../store/types.ts';
import { bareContainerId, workloadOf } from './derive.ts';
import {
  compileLayout,
  renderTemplate,
  SLOT_OBSERVED_NANOS,
  SLOT_TIME_NANOS,
  SLOT_TIMESTAMP_UTC,
  type Layout,
  type MetaContext,
  type Template,
} from './layout.ts';
import type { EnricherOptions } from './options.ts';
import { TemplateRecord } from './record.ts';
import { schemaFields } from './schemas.ts';
import { msToRfc3339, msToUnixNanos, TimestampConverter } from './time.ts';
import type {
  BatchResult,
  DecodedMessage,
  EnrichedRecord,
  Enricher,
  EventError,
  MergeSession,
  PathResolution,
  PendingMetadata,
  RecordOrigin,
  SessionOptions,
  UnmatchedReason,
} from './types.ts';

export interface EnricherDeps {
  store: StoreReader;
  metrics?: Metrics;
  /** Epoch ms: observed time, default timestamps, partial-line flush timeouts. */
  now?: () => number;
  /** `route` label of enrichMessages()'s metrics (the in-process source). Default `agent`. */
  messageRoute?: string;
}

/** Why an event was rejected; the `reason` label of event_errors_total. */
type ErrorReason = 'not_an_object' | 'invalid_field' | 'missing_field' | 'undecodable_line' | 'unserialisable_field';

/** Files remembered (identity and rendered metadata); past it the cache starts over. */
const MAX_FILES = 50_000;
/** Slots of the table of recently seen files (a power of two). */
const RECENT_FILES = 1024;

/**
 * Where a path sits in the table of recently seen files: its length and characters near its end,
 * where the paths of a node's containers differ (pod uid or container id, container, restart).
 */
function recentSlot(path: string): number {
  const n = path.length;
  const mix = n * 31 + path.charCodeAt(n - 7) * 29 + path.charCodeAt(n - 14) * 23 + path.charCodeAt(n - 21) * 19 + path.charCodeAt(n - 28) * 17 + path.charCodeAt(n - 35);
  return mix & (RECENT_FILES - 1); // a short path's NaN becomes 0
}

const STREAM_JSON = [undefined, '"stdout"', '"stderr"'] as const;

/** Store versions of a file's objects: ABSENT, or NOT_SYNCED (absent, its reflector not synced yet). */
const ABSENT = -1;
const NOT_SYNCED = -2;

/** Bits of MetaState.pending, in the order the marker lists them. */
const PENDING_POD = 1;
const PENDING_NAMESPACE = 2;
const PENDING_NODE = 4;
const PENDING_NAMES: readonly PendingMetadata[] = ['pod', 'namespace', 'node'];
/** The marker's value for each mask, made once: templates share them. */
const PENDING_LISTS: readonly (readonly PendingMetadata[] | undefined)[] = Array.from({ length: 8 }, (_, mask) =>
  mask === 0 ? undefined : Object.freeze(PENDING_NAMES.filter((_, bit) => (mask & (1 << bit)) !== 0)),
);

/** One file's identity and the metadata last rendered for it. */
class FileState {
  readonly file: string | undefined;
  readonly fileJson: string;
  readonly identity: PodLogIdentity | undefined;
  /** Set when the path alone decides the answer (unrecognised or missing). */
  readonly pathReason: 'path_not_recognised' | 'missing_file' | undefined;
  podVersion = -1;
  namespaceVersion = -1;
  nodeVersion = -1;
  podEntry: StoreEntry<PodMeta> | undefined = undefined;
  meta: MetaState | undefined = undefined;
  /** The enricher's call epoch in which the store was last asked (see LogEnricher.#epoch). */
  epoch = -1;

  constructor(file: string | undefined) {
    this.file = file;
    this.fileJson = file === undefined ? '' : JSON.stringify(file);
    if (file === undefined) {
      this.identity = undefined;
      this.pathReason = 'missing_file';
      return;
    }
    const match = podIdentityFromPath(file);
    this.identity = match.ok ? match.identity : undefined;
    this.pathReason = match.ok ? undefined : match.reason;
  }
}

/** The rendered metadata of one (pod, namespace, node) state of a file. */
class MetaState implements RecordOrigin {
  readonly ctx: MetaContext;
  readonly excluded: boolean;
  /** PENDING_* bits: metadata missing because it has not synced yet. */
  readonly pending: number;
  /** Templates for lines without a stream, from stdout and from stderr; rendered on first use. */
  readonly templates: [Template | undefined, Template | undefined, Template | undefined] = [undefined, undefined, undefined];
  readonly namespace: string | undefined;
  readonly podName: string | undefined;
  readonly containerName: string | undefined;
  readonly pod: PodMeta | undefined;

  constructor(ctx: MetaContext, excluded: boolean, pending: number) {
    this.ctx = ctx;
    this.excluded = excluded;
    this.pending = pending;
    this.pod = ctx.pod;
    this.namespace = ctx.pod?.namespace ?? ctx.identity?.namespace;
    this.podName = ctx.pod?.name ?? ctx.identity?.podName;
    this.containerName = ctx.identity?.containerName;
  }
}

/** Per-batch counts, turned into metrics once per batch. */
class Tally {
  out = 0;
  excluded = 0;
  pathNotRecognised = 0;
  podNotFound = 0;
  containerNotFound = 0;
  missingFile = 0;
  pendingPod = 0;
  pendingNamespace = 0;
  pendingNode = 0;

  /** One event out, with what its metadata says about it. */
  emitted(meta: MetaState): void {
    this.out++;
    const reason = meta.ctx.reason;
    if (reason !== undefined) this.#unmatched(reason);
    if (meta.pending !== 0) this.#pending(meta.pending);
  }

  #unmatched(reason: UnmatchedReason): void {
    if (reason === 'pod_not_found') this.podNotFound++;
    else if (reason === 'path_not_recognised') this.pathNotRecognised++;
    else if (reason === 'container_not_found') this.containerNotFound++;
    else this.missingFile++;
  }

  #pending(mask: number): void {
    if ((mask & PENDING_POD) !== 0) this.pendingPod++;
    if ((mask & PENDING_NAMESPACE) !== 0) this.pendingNamespace++;
    if ((mask & PENDING_NODE) !== 0) this.pendingNode++;
  }
}

interface RouteCounters {
  in: { inc(n?: number): void };
  out: { inc(n?: number): void };
}

/** Partial-line state of one request or one /v1/ingest connection. */
class Session implements MergeSession {
  /** Fragments carry their event's pass-through text (see LogEnricher.#passThrough). */
  readonly merger: PartialMerger<string>;
  readonly route: string;
  readonly counters: RouteCounters | undefined;
  readonly #enricher: LogEnricher;

  constructor(enricher: LogEnricher, merger: PartialMerger<string>, route: string, counters: RouteCounters | undefined) {
    this.#enricher = enricher;
    this.merger = merger;
    this.route = route;
    this.counters = counters;
  }

  get pendingBytes(): number {
    return this.merger.pendingBytes;
  }

  belongsTo(enricher: LogEnricher): boolean {
    return this.#enricher === enricher;
  }

  flush(): BatchResult {
    return this.#enricher.emitFlushed(this, 'all');
  }

  /** Emits the partial lines whose final fragment is overdue (call from a timer, see nextFlushAt). */
  flushExpired(): BatchResult {
    return this.#enricher.emitFlushed(this, 'expired');
  }

  /** When flushExpired() next has something to emit (epoch ms), or undefined. */
  nextFlushAt(): number | undefined {
    return this.merger.nextFlushAt();
  }
}

function isJsonMessageLine(line: DecodedLine | JsonMessageLine): line is JsonMessageLine {
  return (line as JsonMessageLine).messageJson !== undefined;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Why JSON.stringify refused a pass-through value. JSON.parse reads any depth, but writing a value
 * back recurses: thousands of nested levels overflow the stack (RangeError).
 */
function unserialisableReason(err: unknown): string {
  if (err instanceof RangeError) return 'nested too deeply to be written back as JSON (thousands of levels): flatten it or leave it out';
  // BigInts and cycles: only in-process callers can hand those over.
  return `cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

/** Whether a comma-separated container list names `container`. */
function listsContainer(list: string | undefined, container: string | undefined): boolean {
  if (list === undefined || container === undefined) return false;
  for (const item of list.split(',')) if (item.trim() === container) return true;
  return false;
}

class LogEnricher implements Enricher {
  readonly #options: EnricherOptions;
  readonly #store: StoreReader;
  readonly #metrics: Metrics | undefined;
  readonly #now: () => number;
  readonly #layout: Layout;
  readonly #messageCounters: RouteCounters | undefined;
  readonly #files = new Map<string, FileState>();
  /**
   * The same FileStates by recentSlot(), checked first. Every event parsed from a request brings
   * its own copy of its path, which a Map lookup would hash in full (as costly as a third of
   * JSON.stringify of the message); this costs one string comparison.
   */
  readonly #recentFiles: (FileState | undefined)[] = new Array<FileState | undefined>(RECENT_FILES).fill(undefined);
  readonly #missingFile = new FileState(undefined);
  readonly #time = new TimestampConverter();
  /** When the current batch was seen, as digits (only when the layout uses it). */
  #observedNanos = '';
  readonly #uses: readonly boolean[];
  /** `line` and `message` are the same field: its value is decoded when it is a runtime line. */
  readonly #lineIsMessage: boolean;
  readonly #inFile: string;
  readonly #inLine: string;
  readonly #inMessage: string;
  readonly #inTimestamp: string;
  readonly #inStream: string;
  /** Input fields (consumed) and top-level output keys (the output wins): never copied through. */
  readonly #notPassedThrough: ReadonlySet<string>;
  /** Whether the output carries namespace / node metadata at all (else its absence is no news). */
  readonly #showsNamespace: boolean;
  readonly #showsNode: boolean;
  /**
   * Bumped on every entry point. The store only changes between our synchronous calls, so within
   * one call (a whole batch) a file's pod, namespace and node are looked up once, not per line.
   */
  #epoch = 0;
  /** The field #passThrough last failed on (read right after it returns undefined). */
  #unserialisable = { key: '', reason: '' };

  constructor(options: EnricherOptions, deps: EnricherDeps) {
    this.#options = options;
    this.#store = deps.store;
    this.#metrics = deps.metrics;
    this.#now = deps.now ?? Date.now;
    this.#layout = compileLayout(schemaFields(options.schema, options.input), options.rename);
    this.#uses = this.#layout.usesSlot;
    this.#messageCounters = this.#routeCounters(deps.messageRoute ?? 'agent');
    const input = options.input;
    this.#inFile = input.file;
    this.#inLine = input.line;
    this.#inMessage = input.message;
    this.#inTimestamp = input.timestamp;
    this.#inStream = input.stream;
    this.#lineIsMessage = input.line === input.message;
    this.#notPassedThrough = new Set([input.file, input.line, input.message, input.timestamp, input.stream, ...this.#layout.topLevelKeys]);
    this.#showsNamespace = options.include.namespaceLabels || options.include.namespaceAnnotations;
    this.#showsNode = options.include.nodeLabels || options.include.nodeAnnotations;
    // Fail at start-up, not on the first partial line.
    new PartialMerger({ maxMergedLineBytes: options.maxMergedLineBytes, flushTimeoutMs: options.partialFlushTimeoutMs });
  }

  newSession(options: SessionOptions = {}): Session {
    const route = options.route ?? 'enrich';
    const merger = new PartialMerger<string>({
      maxMergedLineBytes: this.#options.maxMergedLineBytes,
      flushTimeoutMs: this.#options.partialFlushTimeoutMs,
      now: this.#now,
    });
    return new Session(this, merger, route, this.#routeCounters(route));
  }

  enrichBatch(events: readonly unknown[], session: MergeSession): BatchResult {
    if (!(session instanceof Session) || !session.belongsTo(this)) throw new TypeError('enrichBatch: the session must come from this enricher\'s newSession()');
    this.#epoch++;
    const started = performance.now();
    const records: EnrichedRecord[] = [];
    const errors: EventError[] = [];
    const tally = new Tally();
    const stats = session.merger.stats;
    const mergedBefore = stats.fragmentsMerged;
    const truncatedBefore = stats.linesTruncated;
    if (this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());

    for (let i = 0; i < events.length; i++) this.#enrichEvent(events[i], i, session, records, errors, tally);

    const merged = stats.fragmentsMerged - mergedBefore;
    this.#publish(session.counters, events.length, tally, merged, stats.linesTruncated - truncatedBefore);
    this.#metrics?.enrichDuration.observe((performance.now() - started) / 1000);
    return { records, errors, excluded: tally.excluded, merged };
  }

  enrichMessages(files: readonly string[], messages: readonly DecodedMessage[]): EnrichedRecord[] {
    this.#epoch++;
    const started = performance.now();
    const records: EnrichedRecord[] = [];
    const tally = new Tally();
    const count = Math.min(files.length, messages.length);
    if (count > 0 && this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());
    for (let i = 0; i < count; i++) {
      const file = files[i];
      const fs = typeof file === 'string' ? this.#fileState(file) : this.#missingFile;
      const meta = this.#metaFor(fs);
      if (meta.excluded) {
        tally.excluded++;
        continue;
      }
      const message = messages[i]!;
      // The source hands over decoder output; a timestamp that is not RFC 3339 anyway (a caller's
      // bug) is replaced by the time seen rather than breaking the output's JSON or throwing.
      const ts = message.timestamp;
      const timestamp = typeof ts === 'string' && isRfc3339(ts, 0, ts.length) ? ts : msToRfc3339(this.#now());
      const stream = message.stream === 'stdout' || message.stream === 'stderr' ? message.stream : undefined;
      const text = typeof message.message === 'string' ? message.message : String(message.message);
      records.push(this.#render(fs, meta, timestamp, stream, JSON.stringify(text), ''));
      tally.emitted(meta);
    }
    this.#publish(this.#messageCounters, count, tally, 0, 0);
    if (count > 0) this.#metrics?.enrichDuration.observe((performance.now() - started) / 1000);
    return records;
  }

  resolve(file: string): PathResolution {
    this.#epoch++;
    const fs = typeof file === 'string' ? this.#fileState(file) : this.#missingFile;
    const meta = this.#metaFor(fs);
    // The entry found by name is not reported when its container id says it is another pod.
    const pod = meta.ctx.pod === undefined ? undefined : fs.podEntry;
    return { file, identity: fs.identity, matched: meta.ctx.reason === undefined, reason: meta.ctx.reason, pod, pending: meta.ctx.pending ?? [] };
  }

  /** Emits what a session's merger still holds (all of it, or the overdue lines). */
  emitFlushed(session: Session, which: 'all' | 'expired'): BatchResult {
    this.#epoch++;
    const mergedBefore = session.merger.stats.fragmentsMerged;
    const lines = which === 'all' ? session.merger.flushAll() : session.merger.flushExpired();
    const records: EnrichedRecord[] = [];
    const tally = new Tally();
    if (lines.length > 0 && this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());
    for (const line of lines) this.#emitMerged(line, records, tally);
    const merged = session.merger.stats.fragmentsMerged - mergedBefore;
    this.#publish(session.counters, 0, tally, merged, 0);
    return { records, errors: [], excluded: tally.excluded, merged };
  }

  // --- one event --------------------------------------------------------------------------

  #enrichEvent(ev: unknown, index: number, session: Session, records: EnrichedRecord[], errors: EventError[], tally: Tally): void {
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) {
      this.#reject(errors, index, '(event)', 'not_an_object', `an event must be a JSON object, got ${typeName(ev)}`);
      return;
    }
    const rec = ev as Record<string, unknown>;
    const fileValue = rec[this.#inFile];
    let fs: FileState;
    if (fileValue === undefined) fs = this.#missingFile;
    else if (typeof fileValue === 'string') fs = this.#fileState(fileValue);
    else {
      this.#reject(errors, index, this.#inFile, 'invalid_field', `must be a string (the log file path), got ${typeName(fileValue)}`);
      return;
    }

    let decoded: DecodedLine | JsonMessageLine | undefined;
    const lineValue = rec[this.#inLine];
    if (lineValue !== undefined) {
      if (typeof lineValue !== 'string') {
        this.#reject(errors, index, this.#inLine, 'invalid_field', `must be a string (the line as the runtime wrote it), got ${typeName(lineValue)}`);
        return;
      }
      const result = decodeLineKeepingJson(lineValue);
      if (!isDecodeFailure(result)) decoded = result;
      else if (!this.#lineIsMessage) {
        this.#reject(errors, index, this.#inLine, 'undecodable_line', `${result.error}: ${result.detail}`);
        return;
      }
    }

    let timestamp: string;
    let stream: Stream | undefined;
    let message = ''; // of an event without a decodable line
    if (decoded !== undefined) {
      timestamp = decoded.timestamp;
      stream = decoded.stream;
    } else {
      const messageValue = this.#lineIsMessage ? lineValue : rec[this.#inMessage];
      if (messageValue === undefined) {
        this.#reject(
          errors,
          index,
          this.#inLine,
          'missing_field',
          `missing: give "${this.#inLine}" (the line as the runtime wrote it) or "${this.#inMessage}" (an already decoded message)`,
        );
        return;
      }
      if (typeof messageValue !== 'string') {
        this.#reject(errors, index, this.#inMessage, 'invalid_field', `must be a string (the decoded message), got ${typeName(messageValue)}`);
        return;
      }
      message = messageValue;
      const tsValue = rec[this.#inTimestamp];
      if (tsValue === undefined) timestamp = msToRfc3339(this.#now());
      else if (typeof tsValue === 'string' && isRfc3339(tsValue, 0, tsValue.length)) timestamp = tsValue;
      else {
        const got = typeof tsValue === 'string' ? JSON.stringify(tsValue.slice(0, 40)) : typeName(tsValue);
        this.#reject(errors, index, this.#inTimestamp, 'invalid_field', `must be an RFC 3339 timestamp like 2026-11-23T10:00:00.123456789Z, got ${got}`);
        return;
      }
      const streamValue = rec[this.#inStream];
      if (streamValue === 'stdout' || streamValue === 'stderr') stream = streamValue;
      else if (streamValue !== undefined) {
        const got = typeof streamValue === 'string' ? JSON.stringify(streamValue.slice(0, 40)) : typeName(streamValue);
        this.#reject(errors, index, this.#inStream, 'invalid_field', `must be "stdout" or "stderr", got ${got}`);
        return;
      }
    }

    const meta = this.#metaFor(fs);
    if (meta.excluded) {
      tally.excluded++;
      return;
    }
    const extra = this.#passThrough(rec);
    if (extra === undefined) {
      const field = this.#unserialisable;
      this.#reject(errors, index, field.key, 'unserialisable_field', field.reason);
      return;
    }
    // Fragments of a known file go through the session's merger, and so do whole lines of a file
    // and stream with a line pending (they may end it); the rest skips it.
    if (decoded !== undefined && fs.file !== undefined && (decoded.partial || session.merger.isPending(fs.file, decoded.stream))) {
      const line = session.merger.push(fs.file, decoded, extra);
      if (line !== undefined) this.#emitMerged(line, records, tally);
      return;
    }
    let messageJson: string;
    if (decoded === undefined) messageJson = JSON.stringify(message);
    else if (isJsonMessageLine(decoded)) messageJson = decoded.messageJson;
    else messageJson = JSON.stringify(decoded.message);
    records.push(this.#render(fs, meta, timestamp, stream, messageJson, extra));
    tally.emitted(meta);
  }

  #emitMerged(line: MergedLine<string>, records: EnrichedRecord[], tally: Tally): void {
    const fs = this.#fileState(line.key);
    const meta = this.#metaFor(fs);
    if (meta.excluded) {
      tally.excluded++;
      return;
    }
    records.push(this.#render(fs, meta, line.timestamp, line.stream, line.messageJson ?? JSON.stringify(line.message), line.context ?? ''));
    tally.emitted(meta);
  }

  #reject(errors: EventError[], index: number, field: string, reason: ErrorReason, error: string): void {
    errors.push({ index, field, error });
    this.#metrics?.eventErrors.inc({ reason });
  }

  // --- serialisation ----------------------------------------------------------------------

  #render(
    fs: FileState,
    meta: MetaState,
    timestamp: string,
    stream: Stream | undefined,
    messageJson: string,
    passThrough: string,
  ): EnrichedRecord {
    const variant = stream === undefined ? 0 : stream === 'stdout' ? 1 : 2;
    const template = meta.templates[variant] ?? this.#template(fs, meta, variant);
    const uses = this.#uses;
    // Timestamps are validated RFC 3339 (ASCII, no quotes): the template's quotes need no escaping.
    const utc = uses[SLOT_TIMESTAMP_UTC] ? this.#time.utc(timestamp) : '';
    const nanos = uses[SLOT_TIME_NANOS] ? this.#time.unixNanos(timestamp) : '';
    const extra = passThrough !== '' && template.empty ? passThrough.slice(1) : passThrough;
    return new TemplateRecord(template, meta, messageJson, utc, timestamp, nanos, this.#observedNanos, extra);
  }

  /**
   * The event's other fields as `,"key":value` text; output fields of the same name win. Undefined
   * when a field cannot be written as JSON (then #unserialisable says which and why): the event is
   * reported, never sent on without the field.
   */
  #passThrough(rec: Record<string, unknown>): string | undefined {
    const skip = this.#notPassedThrough;
    // The fields every event has (file and line) are told apart by identity first: the parsed
    // keys are the same interned strings as the configured names, cheaper than hashing.
    const file = this.#inFile;
    const line = this.#inLine;
    let out = '';
    for (const key in rec) {
      if (key === file || key === line || skip.has(key)) continue;
      const value = rec[key];
      if (value === undefined) continue;
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (err) {
        this.#unserialisable = { key, reason: unserialisableReason(err) };
        return undefined;
      }
      // Functions and symbols (in-process callers only) have no JSON at all.
      if (json === undefined) {
        this.#unserialisable = { key, reason: `cannot be written as JSON: ${typeof value}` };
        return undefined;
      }
      out += ',' + JSON.stringify(key) + ':' + json;
    }
    return out;
  }

  #template(fs: FileState, meta: MetaState, variant: 0 | 1 | 2): Template {
    const fileJson = fs.file === undefined ? undefined : fs.fileJson;
    const template = renderTemplate(this.#layout, meta.ctx, { streamJson: STREAM_JSON[variant], fileJson });
    meta.templates[variant] = template;
    return template;
  }

  // --- metadata ---------------------------------------------------------------------------

  #fileState(file: string): FileState {
    const slot = recentSlot(file);
    const recent = this.#recentFiles[slot];
    if (recent !== undefined && recent.file === file) return recent;
    let fs = this.#files.get(file);
    if (fs === undefined) {
      if (this.#files.size >= MAX_FILES) {
        this.#files.clear();
        this.#recentFiles.fill(undefined);
      }
      fs = new FileState(file);
      this.#files.set(file, fs);
    }
    this.#recentFiles[slot] = fs;
    return fs;
  }

  /**
   * The file's current metadata: re-rendered only when its pod, namespace or node changed, which
   * includes one arriving, or its kind completing its initial list (NOT_SYNCED becomes ABSENT).
   */
  #metaFor(fs: FileState): MetaState {
    if (fs.epoch === this.#epoch && fs.meta !== undefined) return fs.meta;
    fs.epoch = this.#epoch;
    const id = fs.identity;
    const store = this.#store;
    let pod: StoreEntry<PodMeta> | undefined;
    if (id !== undefined) pod = id.podUid !== undefined ? store.podByUid(id.podUid) : store.podByName(id.namespace, id.podName);
    const namespaceName = pod !== undefined ? pod.object.namespace : id?.namespace;
    const namespace = namespaceName === undefined ? undefined : store.namespace(namespaceName);
    const nodeName = pod?.object.nodeName;
    const node = nodeName === undefined ? undefined : store.node(nodeName);
    // Whether a kind is still syncing is asked only of what is missing (and shown).
    const podVersion = pod !== undefined ? pod.version : id !== undefined && store.pending('pods') ? NOT_SYNCED : ABSENT;
    const namespaceVersion =
      namespace !== undefined ? namespace.version : namespaceName !== undefined && this.#showsNamespace && store.pending('namespaces') ? NOT_SYNCED : ABSENT;
    const nodeVersion = node !== undefined ? node.version : nodeName !== undefined && this.#showsNode && store.pending('nodes') ? NOT_SYNCED : ABSENT;
    if (fs.meta !== undefined && podVersion === fs.podVersion && namespaceVersion === fs.namespaceVersion && nodeVersion === fs.nodeVersion) {
      return fs.meta;
    }
    fs.podVersion = podVersion;
    fs.namespaceVersion = namespaceVersion;
    fs.nodeVersion = nodeVersion;
    fs.podEntry = pod;
    fs.meta = this.#buildMeta(fs, pod?.object, namespace?.object, node?.object);
    return fs.meta;
  }

  /** Builds from the objects found and fs's versions (set by #metaFor). */
  #buildMeta(fs: FileState, pod: PodMeta | undefined, namespace: NamespaceMeta | undefined, node: NodeMeta | undefined): MetaState {
    const id = fs.identity;
    let reason: UnmatchedReason | undefined = fs.pathReason;
    let container: ContainerMeta | undefined;
    if (reason === undefined) {
      if (pod === undefined) reason = 'pod_not_found';
      else {
        container = pod.containers.find((c) => c.name === id!.containerName);
        if (container === undefined) reason = 'container_not_found';
        else if (id!.containerId !== undefined && container.containerId !== undefined && !bareContainerId(container.containerId).startsWith(id!.containerId)) {
          // A /var/log/containers file of another container instance: likely an earlier pod of the
          // same name, whose metadata we no longer have. Better no pod metadata than the wrong one.
          reason = 'container_not_found';
          container = undefined;
          pod = undefined;
          node = undefined;
        }
      }
    }
    let pending = 0;
    if (fs.podVersion === NOT_SYNCED) pending |= PENDING_POD;
    if (fs.namespaceVersion === NOT_SYNCED) pending |= PENDING_NAMESPACE;
    // Not when the pod was dropped above: then its node is not this event's.
    if (fs.nodeVersion === NOT_SYNCED && pod !== undefined) pending |= PENDING_NODE;
    const ctx: MetaContext = {
      identity: id,
      reason,
      pending: PENDING_LISTS[pending],
      pod,
      container,
      namespace,
      node,
      workload: pod === undefined ? undefined : workloadOf(pod),
      include: this.#options.include,
    };
    return new MetaState(ctx, pod !== undefined && this.#isExcluded(pod, id?.containerName), pending);
  }

  #isExcluded(pod: PodMeta, containerName: string | undefined): boolean {
    const ex = this.#options.exclude;
    return isTrue(pod.labels[ex.label]) || isTrue(pod.annotations[ex.annotation]) || listsContainer(pod.annotations[ex.containersAnnotation], containerName);
  }

  // --- metrics ----------------------------------------------------------------------------

  #routeCounters(route: string): RouteCounters | undefined {
    const m = this.#metrics;
    return m === undefined ? undefined : { in: m.eventsIn.labels({ route }), out: m.eventsOut.labels({ route }) };
  }

  #publish(counters: RouteCounters | undefined, received: number, tally: Tally, merged: number, truncated: number): void {
    const m = this.#metrics;
    if (m === undefined || counters === undefined) return;
    if (received > 0) counters.in.inc(received);
    if (tally.out > 0) counters.out.inc(tally.out);
    if (merged > 0) m.eventsMerged.inc(merged);
    if (tally.excluded > 0) m.eventsExcluded.inc(tally.excluded);
    if (truncated > 0) m.linesTruncated.inc({ reason: 'max_merged_line_bytes' }, truncated);
    if (tally.podNotFound > 0) m.eventsUnmatched.inc({ reason: 'pod_not_found' }, tally.podNotFound);
    if (tally.pathNotRecognised > 0) m.eventsUnmatched.inc({ reason: 'path_not_recognised' }, tally.pathNotRecognised);
    if (tally.containerNotFound > 0) m.eventsUnmatched.inc({ reason: 'container_not_found' }, tally.containerNotFound);
    if (tally.missingFile > 0) m.eventsUnmatched.inc({ reason: 'missing_file' }, tally.missingFile);
    if (tally.pendingPod > 0) m.eventsPendingMetadata.inc({ kind: 'pods' }, tally.pendingPod);
    if (tally.pendingNamespace > 0) m.eventsPendingMetadata.inc({ kind: 'namespaces' }, tally.pendingNamespace);
    if (tally.pendingNode > 0) m.eventsPendingMetadata.inc({ kind: 'nodes' }, tally.pendingNode);
  }
}

/**
 * The enricher for one configuration (src/enrich/types.ts is the contract). Throws
 * EnrichConfigError for renames it cannot apply and RangeError for bad merge bounds.
 */
export function createEnricher(options: EnricherOptions, deps: EnricherDeps): Enricher {
  return new LogEnricher(options, deps);
}
