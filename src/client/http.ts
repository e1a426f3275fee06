/**
 * `source` over HTTP: POSTs each batch as NDJSON raw events ({file, message, timestamp, stream}:
 * already decoded and merged here) to <service>/v1/enrich over keep-alive HTTP and returns the
 * enriched NDJSON lines. Failures reject; the delivery pipeline keeps the batch and retries with
 * backoff. A batch over the service's body limit (413) is split in halves.
 */
import type { DecodedMessage } from '../enrich/index.ts';
import { DEFAULT_FIELDS, ENRICH_HEADERS, ENRICH_ROUTE, NDJSON_TYPE, NO_JOIN_QUERY, quoteFields, serialiseRawEvent } from '../protocol/index.ts';
import { createKeepAliveAgent, ndjsonOfTexts, redactUrl, retryAfterSeconds, sendRequest } from '../sink/index.ts';
import type { BatchEnricher, SourceBatch } from '../source/index.ts';
import { RemoteServiceError, serviceRefused } from './errors.ts';
import { serviceUrl, type RemoteStageOptions } from './options.ts';

/** As Node hands incoming headers over. */
const ERRORS_HEADER = ENRICH_HEADERS.errors.toLowerCase();
const ERROR_DETAILS_HEADER = ENRICH_HEADERS.errorDetails.toLowerCase();

export function createRemoteStage(options: RemoteStageOptions): BatchEnricher & { close(): void } {
  const url = serviceUrl(options.service, options.joined === true ? `${ENRICH_ROUTE}?${NO_JOIN_QUERY}` : ENRICH_ROUTE);
  const where = redactUrl(url);
  const agent = createKeepAliveAgent(url);
  const quoted = quoteFields(options.fields ?? DEFAULT_FIELDS);
  const headers: Record<string, string> = { 'content-type': NDJSON_TYPE, accept: NDJSON_TYPE };
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
      const errors = Number(res.headers[ERRORS_HEADER] ?? 0);
      if (errors > 0) options.logger?.warn({ service: where, errors, details: res.headers[ERROR_DETAILS_HEADER] }, 'the service reported invalid events');
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
