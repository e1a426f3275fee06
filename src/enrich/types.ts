/**
 * The contract between the enricher (src/enrich) and its callers: the HTTP/WebSocket routes
 * (src/server) and the in-process file source (src/source).
 */
import type { Stream } from '../formats/types.ts';
import type { ByteWriter } from './byte-writer.ts';
import type { PodLogIdentity } from '../paths/types.ts';
import type { PodMeta, RetentionHint, StoreEntry } from '../store/types.ts';
import type { MultilineRule } from '../multiline/rules.ts';

/** Why an event came back without pod metadata. Values are metric labels too. */
export type UnmatchedReason = 'path_not_recognised' | 'pod_not_found' | 'container_not_found' | 'missing_file';

/**
 * Metadata an event lacks only because its reflector has not completed its initial list yet (the
 * event's `pending_metadata` marker); not reported for metadata the output does not include.
 */
export type PendingMetadata = 'pod' | 'namespace' | 'node';

/** One enriched event, ready to send. */
export interface EnrichedRecord {
  /**
   * The event in the configured schema, serialised as one JSON object (no newline). Built on
   * each access: senders use writeTo() instead.
   */
  readonly json: string;
  /** Writes the same JSON as UTF-8 bytes (no newline), reserving the room it needs. */
  writeTo(out: ByteWriter): void;
  /** An upper bound of the bytes writeTo() writes. */
  readonly maxBytes: number;
  /** For /v1/stream filters: who wrote it. The same object for every record of one file's metadata state. */
  readonly origin: RecordOrigin;
}

/**
 * Who wrote a line, when known. Shared by the records of one file's metadata state, so a filter
 * decided for one record holds, by identity, for all records of the same origin.
 */
export interface RecordOrigin {
  readonly namespace: string | undefined;
  readonly podName: string | undefined;
  readonly containerName: string | undefined;
  readonly pod: PodMeta | undefined;
}

/** An event of a batch that could not be used, reported in the response instead of failing it. */
export interface EventError {
  /** Index of the event in the request (0-based). */
  index: number;
  /** The input field at fault, with its configured name. */
  field: string;
  error: string;
}

export interface BatchResult {
  records: EnrichedRecord[];
  errors: EventError[];
  /** Events skipped because their pod or container is excluded. */
  excluded: number;
  /** Partial fragments folded into a later event. */
  merged: number;
}

/**
 * Partial-line state for one request or one /v1/ingest connection: fragments of the same file
 * and stream are merged until the fragment that ends the line arrives.
 */
export interface MergeSession {
  /** Emits whatever is still pending (end of a request, flush timeout, connection close). */
  flush(): BatchResult;
  /** Emits only the partial lines whose final fragment is overdue (partialFlushTimeout); call from a timer. */
  flushExpired(): BatchResult;
  /** When flushExpired() next has something to emit (epoch ms on the enricher's clock), or undefined. */
  nextFlushAt(): number | undefined;
  /** Bytes held in pending fragments. */
  readonly pendingBytes: number;
  /** The longest a pending line or multi-line record waits for flushExpired (the larger timeout). */
  readonly maxFlushDelayMs: number;
}

export interface SessionOptions {
  /** `route` label of the session's metrics (events_in/out_total): `enrich`, `forward`, `ingest`... Default `enrich`. */
  route?: string;
  /**
   * False: the lines of annotated pods are not joined (the client joined them, with the rules of
   * POST /v1/views). Default true.
   */
  multiline?: boolean;
}

/** What the service knows for a log path (GET /v1/lookup). */
export interface PathResolution {
  file: string;
  identity: PodLogIdentity | undefined;
  matched: boolean;
  reason: UnmatchedReason | undefined;
  pod: StoreEntry<PodMeta> | undefined;
  /** What the file's events lack only because a reflector has not synced yet: their `pending_metadata` marker ([] when nothing). */
  pending: readonly PendingMetadata[];
}

/** A line already decoded and merged (the in-process source's path). */
export interface DecodedMessage {
  timestamp: string;
  stream: Stream;
  message: string;
}

/** See Enricher.fileView. */
export interface FileView {
  readonly excluded: boolean;
  /** The pod's multiline annotation, compiled; undefined: its lines are not joined. */
  readonly multiline: MultilineRule | undefined;
}

export interface Enricher {
  newSession(options?: SessionOptions): MergeSession;
  /** Raw events as shippers post them (configured field names); order preserved. */
  enrichBatch(events: readonly unknown[], session: MergeSession): BatchResult;
  /**
   * The in-process source's path: lines already decoded and merged, `files[i]` holding
   * `messages[i]`; in order, without the excluded ones. Counted once per call.
   */
  enrichMessages(files: readonly string[], messages: readonly DecodedMessage[]): EnrichedRecord[];
  resolve(file: string): PathResolution;
  /**
   * What the store says of a file's lines now: whether they are left out (pod, container or
   * namespace excluded, or not opted in) and their multi-line rule. The agent's file source asks
   * before each read of a file. A look, not a use: it does not keep a deleted pod (RetentionHint).
   */
  fileView(file: string): FileView;
  /**
   * Deleted pods that events still ask for: registered on the store (RetainingStore.addRetentionHint),
   * it keeps such a pod until kubernetes.deletionDelay passes without a request for it.
   */
  readonly retentionHint: RetentionHint;
}
