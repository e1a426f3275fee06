/**
 * The per-line hot path: raw event → decoded line → identity from the path → store lookup →
 * enriched event serialised in the configured schema. This file only strings the steps together;
 * each lives in its own module:
 *
 *   raw-event.ts      reads and checks an event's fields (configured names), decodes its line
 *   session.ts        merges partial lines per request or /v1/ingest connection, and joins the
 *                     lines of multi-line messages of annotated pods (src/multiline/)
 *   file-metadata.ts  a file's identity and the metadata rendered for it, kept in step with the store
 *   record.ts         an output line: the metadata template filled with the line's values
 *   counters.ts       metrics, counted per call
 *
 * What keeps it cheap: a file's identity is parsed once; per line the store is asked for the
 * pod, namespace and node entries (three Map lookups) and only when one of their versions moved
 * is the metadata part re-rendered (layout.ts). An output line is then string concatenation of
 * that pre-rendered text with the JSON of the per-line values; JSON.stringify runs only for the
 * message and pass-through fields, and not even for the message of a Docker line, whose JSON
 * text is validated and kept (decodeLineKeepingJson), nor when its fragments are merged.
 */
import { isRfc3339, PartialMerger } from '../formats/index.ts';
import type { MergedLine, PartialMergerOptions, Stream } from '../formats/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { MultilineAnnotations, type JoinedEvent, type MultilineJoinerOptions, type MultilineRule } from '../multiline/index.ts';
import type { RetentionHint, StoreReader } from '../store/types.ts';
import { EnrichCounters, Tally, type RouteCounters } from './counters.ts';
import { MetadataMaps } from './field-rules.ts';
import { FileMetadataCache, type FileState, type MetaState, type StreamVariant } from './file-metadata.ts';
import { JsonMessageParser } from './json-message.ts';
import { compileLayout, SLOT_OBSERVED_NANOS, SLOT_TIME_NANOS, SLOT_TIMESTAMP_UTC } from './layout.ts';
import type { EnricherOptions } from './options.ts';
import { RawEventReader } from './raw-event.ts';
import { TemplateRecord } from './record.ts';
import { schemaFields } from './schemas.ts';
import { Session, type SessionLine, type SessionOwner } from './session.ts';
import { msToRfc3339, msToUnixNanos, TimestampConverter } from './time.ts';
import type { BatchResult, DecodedMessage, EnrichedRecord, Enricher, EventError, FileView, MergeSession, PathResolution, SessionOptions } from './types.ts';

export interface EnricherDeps {
  store: StoreReader;
  metrics?: Metrics;
  /** Epoch ms: observed time, default timestamps, partial-line flush timeouts. */
  now?: () => number;
  /** `route` label of enrichMessages()'s metrics (the in-process source). Default `agent`. */
  messageRoute?: string;
  /** Where an unusable multiline annotation is reported (once per value). */
  logger?: Pick<Logger, 'warn'>;
}

/** Events a joiner emitted, handed from the session to the renderer (one array reused per enricher). */
type Joined = JoinedEvent<SessionLine, string>;

class LogEnricher implements Enricher, SessionOwner {
  readonly #now: () => number;
  readonly #mergerOptions: PartialMergerOptions;
  readonly #joinerOptions: MultilineJoinerOptions;
  readonly #joined: Joined[] = [];
  readonly #metrics: Metrics | undefined;
  readonly #counters: EnrichCounters;
  readonly #messageCounters: RouteCounters | undefined;
  readonly #reader: RawEventReader;
  readonly #files: FileMetadataCache;
  readonly #json: JsonMessageParser;
  readonly #time = new TimestampConverter();
  /** Which per-line values the layout uses, so the others are not computed. */
  readonly #uses: readonly boolean[];
  /** When the current batch was seen, as digits (only when the layout uses it). */
  #observedNanos = '';

  constructor(options: EnricherOptions, deps: EnricherDeps) {
    this.#now = deps.now ?? Date.now;
    this.#mergerOptions = { maxMergedLineBytes: options.maxMergedLineBytes, flushTimeoutMs: options.partialFlushTimeoutMs, now: this.#now };
    // Fail at start-up, not on the first partial line.
    new PartialMerger(this.#mergerOptions);
    this.#joinerOptions = { maxBytes: options.multiline.maxBytes, flushTimeoutMs: options.multiline.flushTimeoutMs, now: this.#now };
    this.#metrics = deps.metrics;
    const invalidCounter = deps.metrics?.multilineInvalidAnnotations;
    const multiline = new MultilineAnnotations(
      options.multiline.annotation,
      (invalid) => deps.logger?.warn(invalid, 'multiline annotation ignored: it cannot be used (logged once per value)'),
      invalidCounter === undefined ? undefined : () => invalidCounter.inc(),
    );
    const layout = compileLayout(schemaFields(options.schema, options.input), options.rename);
    this.#uses = layout.usesSlot;
    this.#counters = new EnrichCounters(deps.metrics);
    this.#messageCounters = this.#counters.forRoute(deps.messageRoute ?? 'agent');
    this.#reader = new RawEventReader(options.input, layout.topLevelKeys, this.#now, this.#counters);
    const maps = new MetadataMaps(options.include, options.fields, options.dedot);
    this.#files = new FileMetadataCache({
      store: deps.store,
      layout,
      maps,
      clusterName: options.clusterName,
      exclude: options.exclude,
      parseJson: options.parseJson.enabled,
      parseJsonAnnotation: options.parseJson.annotation,
      multiline,
      now: this.#now,
    });
    const m = deps.metrics?.jsonMessages;
    this.#json = new JsonMessageParser(
      options.schema,
      options.parseJson,
      layout.topLevelKeys,
      m === undefined ? undefined : { parsed: m.labels({ result: 'parsed' }), invalid: m.labels({ result: 'invalid' }), notAnObject: m.labels({ result: 'not_an_object' }) },
    );
  }

  newSession(options: SessionOptions = {}): Session {
    const route = options.route ?? 'enrich';
    return new Session(this, this.#mergerOptions, this.#joinerOptions, route, this.#counters.forRoute(route), options.multiline !== false);
  }

  enrichBatch(events: readonly unknown[], session: MergeSession): BatchResult {
    if (!(session instanceof Session) || !session.belongsTo(this)) throw new TypeError('enrichBatch: the session must come from this enricher\'s newSession()');
    this.#files.nextEpoch();
    const started = performance.now();
    const records: EnrichedRecord[] = [];
    const errors: EventError[] = [];
    const tally = new Tally();
    const stats = session.merger.stats;
    const mergedBefore = stats.fragmentsMerged;
    const truncatedBefore = stats.linesTruncated;
    if (this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());

    for (let i = 0; i < events.length; i++) this.#enrichEvent(events[i], i, session, records, errors, tally);
    this.#reader.forget();

    const merged = stats.fragmentsMerged - mergedBefore;
    this.#counters.publish(session.counters, events.length, tally, merged, stats.linesTruncated - truncatedBefore);
    this.#publishJoins(session);
    this.#counters.observeDuration(started);
    return { records, errors, excluded: tally.excluded, merged };
  }

  enrichMessages(files: readonly string[], messages: readonly DecodedMessage[]): EnrichedRecord[] {
    this.#files.nextEpoch();
    const started = performance.now();
    const records: EnrichedRecord[] = [];
    const tally = new Tally();
    const count = Math.min(files.length, messages.length);
    if (count > 0 && this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());
    for (let i = 0; i < count; i++) {
      const file = files[i];
      const fs = typeof file === 'string' ? this.#files.fileState(file) : this.#files.missingFile;
      const meta = this.#files.metaFor(fs);
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
      records.push(this.#render(fs, meta, timestamp, stream, JSON.stringify(text), '', text));
      tally.emitted(meta);
    }
    this.#counters.publish(this.#messageCounters, count, tally, 0, 0);
    if (count > 0) this.#counters.observeDuration(started);
    return records;
  }

  readonly retentionHint: RetentionHint = {
    podNeededAt: (uid) => {
      const at = this.#files.podAskedAt(uid);
      return at === undefined ? undefined : { at, reason: 'recent_lookups' };
    },
  };

  fileView(file: string): FileView {
    this.#files.nextEpoch();
    return this.#files.metaFor(this.#files.fileState(file), false);
  }

  resolve(file: string): PathResolution {
    this.#files.nextEpoch();
    const fs = typeof file === 'string' ? this.#files.fileState(file) : this.#files.missingFile;
    const meta = this.#files.metaFor(fs, false);
    // The entry found by name is not reported when its container id says it is another pod.
    const pod = meta.ctx.pod === undefined ? undefined : fs.podEntry;
    return { file, identity: fs.identity, matched: meta.ctx.reason === undefined, reason: meta.ctx.reason, pod, pending: meta.ctx.pending ?? [] };
  }

  /**
   * Emits what a session's merger still holds (all of it, or the overdue lines), then what its
   * joiner holds: the merged lines may have ended or continued a record.
   */
  emitFlushed(session: Session, which: 'all' | 'expired'): BatchResult {
    this.#files.nextEpoch();
    const mergedBefore = session.merger.stats.fragmentsMerged;
    const lines = which === 'all' ? session.merger.flushAll() : session.merger.flushExpired();
    const records: EnrichedRecord[] = [];
    const tally = new Tally();
    if ((lines.length > 0 || session.joinsPending > 0) && this.#uses[SLOT_OBSERVED_NANOS]) this.#observedNanos = msToUnixNanos(this.#now());
    for (const line of lines) this.#emitMerged(line, session, records, tally);
    if (session.joinsPending > 0) {
      const joined = this.#joined;
      if (which === 'all') session.joiner.flushAll(joined);
      else session.joiner.flushExpired(joined);
      this.#emitJoined(records, tally);
    }
    const merged = session.merger.stats.fragmentsMerged - mergedBefore;
    this.#counters.publish(session.counters, 0, tally, merged, 0);
    this.#publishJoins(session);
    return { records, errors: [], excluded: tally.excluded, merged };
  }

  #publishJoins(session: Session): void {
    const m = this.#metrics;
    if (m === undefined) return;
    const d = session.joinStatsSincePublished();
    if (d === undefined) return;
    if (d.eventsJoined > 0) m.multilineEvents.inc(d.eventsJoined);
    if (d.linesJoined > 0) m.multilineLinesJoined.inc(d.linesJoined);
    if (d.splits > 0) m.multilineSplits.inc(d.splits);
  }

  #enrichEvent(value: unknown, index: number, session: Session, records: EnrichedRecord[], errors: EventError[], tally: Tally): void {
    const ev = this.#reader.read(value, index, errors);
    if (ev === undefined) return;
    const file = ev.file;
    const fs = file === undefined ? this.#files.missingFile : this.#files.fileState(file);
    const meta = this.#files.metaFor(fs);
    if (meta.excluded) {
      tally.excluded++;
      return;
    }
    const extra = this.#reader.passThrough(ev, index, errors);
    if (extra === undefined) return;
    const decoded = ev.decoded;
    if (decoded !== undefined && file !== undefined && session.merges(file, decoded)) {
      const line = session.merger.push(file, decoded, extra);
      if (line !== undefined) this.#emitMerged(line, session, records, tally);
      return;
    }
    if (file !== undefined && ((session.joins && meta.multiline !== undefined) || session.joinsPending > 0)) {
      const text = ev.messageText();
      const json = text === undefined ? ev.messageJson() : undefined;
      const line: SessionLine = { timestamp: ev.timestamp, stream: ev.stream, message: text ?? (JSON.parse(json!) as string), messageJson: json };
      this.#join(file, meta.multiline, line, extra, session, records, tally);
      return;
    }
    records.push(this.#render(fs, meta, ev.timestamp, ev.stream, ev.messageJson(), extra, ev.messageText()));
    tally.emitted(meta);
  }

  #emitMerged(line: MergedLine<string>, session: Session, records: EnrichedRecord[], tally: Tally): void {
    const fs = this.#files.fileState(line.key);
    const meta = this.#files.metaFor(fs);
    if (meta.excluded) {
      tally.excluded++;
      return;
    }
    if ((session.joins && meta.multiline !== undefined) || session.joinsPending > 0) {
      this.#join(line.key, meta.multiline, line, line.context ?? '', session, records, tally);
      return;
    }
    records.push(this.#render(fs, meta, line.timestamp, line.stream, line.messageJson ?? JSON.stringify(line.message), line.context ?? '', line.messageJson === undefined ? line.message : undefined));
    tally.emitted(meta);
  }

  /** A line of an annotated pod (or of a file with a record pending) goes through the session's joiner. */
  #join(file: string, rule: MultilineRule | undefined, line: SessionLine, passThrough: string, session: Session, records: EnrichedRecord[], tally: Tally): void {
    const joined = this.#joined;
    if (rule === undefined) {
      // The annotation went away: what the file held goes out first, then the line as it is.
      session.joiner.flushKey(file, joined);
      joined.push({ key: file, first: line, lines: 1, message: line.message, context: passThrough, weight: 0, end: 'single' });
    } else {
      session.joiner.push(file, line, rule, passThrough, 0, joined);
    }
    this.#emitJoined(records, tally);
  }

  /** Renders the events the joiner let go (this.#joined) and empties the array. */
  #emitJoined(records: EnrichedRecord[], tally: Tally): void {
    const joined = this.#joined;
    for (let i = 0; i < joined.length; i++) {
      const e = joined[i]!;
      const fs = this.#files.fileState(e.key);
      const meta = this.#files.metaFor(fs);
      if (meta.excluded) {
        tally.excluded++;
        continue;
      }
      const single = e.lines === 1;
      const messageJson = (single ? e.first.messageJson : undefined) ?? JSON.stringify(e.message);
      records.push(this.#render(fs, meta, e.first.timestamp, e.first.stream, messageJson, e.context, e.message));
      tally.emitted(meta);
    }
    joined.length = 0;
  }

  /** `text`: the message itself when at hand (else it is read from messageJson when needed). */
  #render(fs: FileState, meta: MetaState, timestamp: string, stream: Stream | undefined, messageJson: string, passThrough: string, text: string | undefined): EnrichedRecord {
    let variant: StreamVariant = stream === undefined ? 0 : stream === 'stdout' ? 1 : 2;
    if (meta.parseJson) {
      const parsed = this.#json.parse(messageJson, passThrough, text);
      if (parsed !== undefined) {
        messageJson = parsed.messageJson;
        passThrough += parsed.extra;
        if (parsed.omitMessage) variant = (variant + 3) as StreamVariant;
      }
    }
    const template = meta.templates[variant] ?? this.#files.renderTemplate(fs, meta, variant);
    const uses = this.#uses;
    // Timestamps are validated RFC 3339 (ASCII, no quotes): the template's quotes need no escaping.
    const utc = uses[SLOT_TIMESTAMP_UTC] ? this.#time.utc(timestamp) : '';
    const nanos = uses[SLOT_TIME_NANOS] ? this.#time.unixNanos(timestamp) : '';
    const extra = passThrough !== '' && template.empty ? passThrough.slice(1) : passThrough;
    return new TemplateRecord(template, meta, messageJson, utc, timestamp, nanos, this.#observedNanos, extra);
  }
}

/**
 * The enricher for one configuration (src/enrich/types.ts is the contract). Throws
 * EnrichConfigError for renames it cannot apply and RangeError for bad merge bounds.
 */
export function createEnricher(options: EnricherOptions, deps: EnricherDeps): Enricher {
  return new LogEnricher(options, deps);
}
