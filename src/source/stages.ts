/**
 * The processing stage between reading and the sink, in its three forms: the in-process enricher
 * (`agent`), the remote service over HTTP (`source`), and plain serialisation (no enrichment: the
 * decoded events as JSON, for a source whose receiver enriches by itself, and for tests).
 */
import type { DecodedMessage, EnrichedRecord, Enricher } from '../enrich/types.ts';
import type { Metrics } from '../metrics/index.ts';
import { ByteWriter } from '../enrich/byte-writer.ts';
import { DELIVERY_BACKOFF } from '../sink/backoff.ts';
import { bodySnippet, createKeepAliveAgent, isRetryableStatus, retryAfterSeconds, sendRequest } from '../sink/http-request.ts';
import { ndjsonOfRecords, ndjsonOfTexts } from '../sink/ndjson.ts';
import { redactUrl } from '../sink/spec.ts';
import type { BatchEnricher, SourceBatch } from './delivery.ts';
import type { SourceLogger } from './logger.ts';

export interface InProcessStageOptions {
  /** The event bus behind /v1/stream, when the service runs in this process. */
  publish?: (records: readonly EnrichedRecord[]) => void;
}

/** `agent`: Enricher.enrichMessages per batch, then publish to the bus, then the records' NDJSON goes to the sink. */
export function createInProcessStage(enricher: Pick<Enricher, 'enrichMessages'>, options: InProcessStageOptions = {}): BatchEnricher & { close(): void } {
  const { publish } = options;
  // Two output buffers, in turn: the sink writes one batch's bytes while the next batch is enriched
  // into the other (the BatchEnricher contract). Reused, so that no megabyte buffer per batch
  // waits for V8 to collect it.
  const writers = [new ByteWriter(1 << 20), new ByteWriter(1 << 20)];
  let turn = 0;
  return {
    name: 'enricher',
    processBatch(batch: SourceBatch) {
      // events in/out/excluded and the batch's duration are counted by enrichMessages itself.
      const records = enricher.enrichMessages(batch.files, batch.messages);
      if (publish !== undefined && records.length > 0) publish(records);
      turn ^= 1;
      return Promise.resolve(ndjsonOfRecords(records, writers[turn]));
    },
    close() {},
  };
}

/** Decoded events as JSON, unenriched: {"file","timestamp","stream","message"}. */
export function createSerialisingStage(): BatchEnricher & { close(): void } {
  return {
    name: 'serialiser',
    processBatch(batch: SourceBatch) {
      const out = new Array<string>(batch.files.length);
      for (let i = 0; i < batch.files.length; i++) out[i] = serialiseRawEvent(batch.files[i]!, batch.messages[i]!, DEFAULT_QUOTED);
      return Promise.resolve(ndjsonOfTexts(out));
    },
    close() {},
  };
}

/** Names of the raw-event fields the service expects (its `enrichment.input` setting). */
export interface RawEventFields {
  file: string;
  message: string;
  timestamp: string;
  stream: string;
}

export const DEFAULT_FIELDS: RawEventFields = { file: 'file', message: 'message', timestamp: 'timestamp', stream: 'stream' };

/** Quoted field names are computed once per stage, not per event. */
export interface QuotedFields {
  file: string;
  message: string;
  timestamp: string;
  stream: string;
}

export function quoteFields(f: RawEventFields): QuotedFields {
  return { file: `{${JSON.stringify(f.file)}:`, message: `,${JSON.stringify(f.message)}:`, timestamp: `,${JSON.stringify(f.timestamp)}:`, stream: `,${JSON.stringify(f.stream)}:` };
}

const DEFAULT_QUOTED = quoteFields(DEFAULT_FIELDS);

export function serialiseRawEvent(file: string, m: DecodedMessage, q: QuotedFields): string {
  return `${q.file}${JSON.stringify(file)}${q.timestamp}${JSON.stringify(m.timestamp)}${q.stream}"${m.stream}"${q.message}${JSON.stringify(m.message)}}`;
}

export interface RemoteStageOptions {
  /** Base URL of the enrichment service, e.g. http://127.0.0.1:8080 */
  service: string | URL;
  /** Bearer token (server.authToken of the service). Never logged. */
  token?: string | undefined;
  fields?: RawEventFields;
  timeoutMs?: number;
  metrics?: Metrics;
  logger?: SourceLogger;
}

/** The service answered with an error status (to a POST, or to the WebSocket upgrade): permanent unless retrying can help. */
export function serviceRefused(where: string, status: number, body: string, retryAfter: number | undefined): RemoteServiceError {
  const permanent = !isRetryableStatus(status);
  const hint = status === 401 || status === 403 ? ' (check serviceToken / serviceTokenFile)' : '';
  return new RemoteServiceError(`enrichment service ${where} answered HTTP ${status}${hint}: ${bodySnippet(body)}`, {
    permanent,
    status,
    retryAfterSeconds: retryAfter ?? (permanent ? DELIVERY_BACKOFF.maxMs / 1000 : undefined),
  });
}

/** An answer from the service, or none. `permanent` when retrying the same batch cannot help (bad token, bad request). */
export class RemoteServiceError extends Error {
  readonly code = 'service_unavailable';
  readonly permanent: boolean;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options: { permanent: boolean; status?: number; retryAfterSeconds?: number }) {
    super(message);
    this.name = 'RemoteServiceError';
    this.permanent = options.permanent;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * `source`: POSTs each batch as NDJSON raw events ({file, message, timestamp, stream}: already
 * decoded and merged here) to <service>/v1/enrich over keep-alive HTTP and returns the enriched
 * NDJSON lines. Failures reject; the delivery pipeline keeps the batch and retries with backoff.
 * A batch over the service's body limit (413) is split in halves.
 */
export function createRemoteStage(options: RemoteStageOptions): BatchEnricher & { close(): void } {
  const base = new URL(options.service);
  const url = new URL('v1/enrich', base.href.endsWith('/') ? base : new URL(`${base.href}/`));
  const where = redactUrl(url);
  const agent = createKeepAliveAgent(url);
  const quoted = quoteFields(options.fields ?? DEFAULT_FIELDS);
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' };
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const closing = new AbortController();

  async function post(files: readonly string[], messages: readonly DecodedMessage[]): Promise<string[]> {
    let body = '';
    for (let i = 0; i < files.length; i++) body += serialiseRawEvent(files[i]!, messages[i]!, quoted) + '\n';
    let res;
    try {
      res = await sendRequest(url, { method: 'POST', agent, headers, body, timeoutMs, signal: closing.signal });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new RemoteServiceError(`enrichment service ${where} unreachable: ${e.code ?? 'error'} ${e.message}`, { permanent: false });
    }
    if (res.status === 200) {
      const errors = Number(res.headers['x-enrich-errors'] ?? 0);
      if (errors > 0) options.logger?.warn({ service: where, errors, details: res.headers['x-enrich-error-details'] }, 'the service reported invalid events');
      return splitLines(res.body);
    }
    if (res.status === 413 && files.length > 1) {
      const half = files.length >> 1;
      const first = await post(files.slice(0, half), messages.slice(0, half));
      const second = await post(files.slice(half), messages.slice(half));
      return first.concat(second);
    }
    throw serviceRefused(where, res.status, res.body, retryAfterSeconds(res.headers));
  }

  return {
    name: 'service',
    async processBatch(batch: SourceBatch) {
      return ndjsonOfTexts(await post(batch.files, batch.messages));
    },
    close() {
      closing.abort();
      agent.destroy();
    },
  };
}

function splitLines(body: string): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf('\n', start);
    if (end === -1) end = body.length;
    let stop = end;
    if (stop > start && body.charCodeAt(stop - 1) === 13) stop--;
    if (stop > start) out.push(body.slice(start, stop));
    start = end + 1;
  }
  return out;
}
