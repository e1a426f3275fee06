/**
 * POSTs NDJSON batches to an HTTP(S) endpoint over keep-alive connections. Connection errors,
 * 5xx, 408 and 429 are retried with jittered backoff a few times within one write; after that the
 * write rejects (the caller keeps the batch and retries later) and the sink reports itself
 * unavailable until the backoff has passed. Any other 4xx is a hard error (SinkRejectedError).
 */
import type { Metrics } from '../metrics/index.ts';
import { DELIVERY_BACKOFF, backoffDelay, sleep, type BackoffPolicy } from './backoff.ts';
import { bodySnippet, createKeepAliveAgent, isRetryableStatus, retryAfterSeconds, sendRequest } from './http-request.ts';
import { redactUrl } from './spec.ts';
import { SinkRejectedError, SinkUnavailableError, type NdjsonChunk, type Sink } from './types.ts';

export interface HttpSinkOptions {
  /** Attempts per write before it rejects (>= 1). */
  attempts?: number;
  backoff?: BackoffPolicy;
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization). Never logged. */
  headers?: Record<string, string>;
  metrics?: Metrics;
  now?: () => number;
  random?: () => number;
}

export function createHttpSink(url: URL, options: HttpSinkOptions = {}): Sink {
  const attempts = Math.max(1, options.attempts ?? 3);
  const policy = options.backoff ?? DELIVERY_BACKOFF;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const where = redactUrl(url);
  const agent = createKeepAliveAgent(url);
  const headers = { 'content-type': 'application/x-ndjson', ...options.headers };
  const closing = new AbortController();
  /** While failing: epoch ms before which `available` says false. */
  let unavailableUntil = 0;

  function failed(err: SinkUnavailableError): never {
    unavailableUntil = now() + err.retryAfterSeconds * 1000;
    throw err;
  }

  async function write(chunk: NdjsonChunk): Promise<void> {
    if (chunk.bytes.length === 0) return;
    if (closing.signal.aborted) throw new SinkUnavailableError(`http sink ${where} is closed`, 5);
    const body = chunk.bytes;
    let lastProblem = '';
    let retryAfter: number | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        const wait = Math.min(policy.maxMs, Math.max(backoffDelay(policy, attempt - 1, options.random), (retryAfter ?? 0) * 1000));
        await sleep(wait, closing.signal);
        if (closing.signal.aborted) break;
      }
      try {
        const res = await sendRequest(url, { method: 'POST', agent, headers, body, timeoutMs, signal: closing.signal });
        if (res.status >= 200 && res.status < 300) {
          unavailableUntil = 0;
          return;
        }
        retryAfter = retryAfterSeconds(res.headers);
        if (!isRetryableStatus(res.status)) {
          options.metrics?.sinkErrors.inc({ sink: 'http' });
          failed(new SinkRejectedError(`http sink ${where} rejected the batch with HTTP ${res.status}: ${bodySnippet(res.body)}`, res.status));
        }
        lastProblem = `HTTP ${res.status}: ${bodySnippet(res.body)}`;
      } catch (err) {
        if (err instanceof SinkUnavailableError) throw err;
        const e = err as NodeJS.ErrnoException;
        lastProblem = `${e.code ?? 'error'}: ${e.message}`;
        retryAfter = undefined;
      }
      options.metrics?.sinkErrors.inc({ sink: 'http' });
    }
    const seconds = Math.max(1, Math.ceil(retryAfter ?? policy.initialMs / 1000));
    failed(new SinkUnavailableError(`http sink ${where} is unavailable after ${attempts} attempt(s): ${lastProblem}`, seconds));
  }

  return {
    get available() {
      return !closing.signal.aborted && now() >= unavailableUntil;
    },
    write,
    async close() {
      closing.abort();
      agent.destroy();
    },
  };
}
