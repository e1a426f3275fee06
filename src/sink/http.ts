/**
 * POSTs NDJSON batches to an HTTP(S) endpoint over keep-alive connections. Connection errors,
 * 5xx, 408 and 429 are retried with jittered backoff a few times within one write; after that the
 * write rejects (the caller keeps the batch and retries later) and the sink reports itself
 * unavailable until the backoff has passed. Any other 4xx is a hard error (SinkRejectedError).
 */
import type { Metrics } from '../metrics/index.ts';
import { bodySnippet, createKeepAliveAgent, isRetryableStatus, retryAfterSeconds, sendRequest } from './http-request.ts';
import { DeliveryRetries, type AttemptResult, type RetryOptions } from './retries.ts';
import { redactUrl } from './spec.ts';
import { SinkRejectedError, type NdjsonChunk, type Sink } from './types.ts';

export interface HttpSinkOptions extends RetryOptions {
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization). Never logged. */
  headers?: Record<string, string>;
  metrics?: Metrics;
}

export function createHttpSink(url: URL, options: HttpSinkOptions = {}): Sink {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = redactUrl(url);
  const agent = createKeepAliveAgent(url);
  const headers = { 'content-type': 'application/x-ndjson', ...options.headers };
  const countError = (): void => options.metrics?.sinkErrors.inc({ sink: 'http' });
  const retries = new DeliveryRetries(`http sink ${where}`, options, countError);

  async function post(body: Buffer, signal: AbortSignal): Promise<AttemptResult> {
    try {
      const res = await sendRequest(url, { method: 'POST', agent, headers, body, timeoutMs, signal });
      if (res.status >= 200 && res.status < 300) return { delivered: true };
      if (!isRetryableStatus(res.status)) {
        countError();
        retries.fail(new SinkRejectedError(`http sink ${where} rejected the batch with HTTP ${res.status}: ${bodySnippet(res.body)}`, res.status));
      }
      return { delivered: false, problem: `HTTP ${res.status}: ${bodySnippet(res.body)}`, retryAfterSeconds: retryAfterSeconds(res.headers) };
    } catch (err) {
      if (err instanceof SinkRejectedError) throw err;
      const e = err as NodeJS.ErrnoException;
      return { delivered: false, problem: `${e.code ?? 'error'}: ${e.message}`, retryAfterSeconds: undefined };
    }
  }

  return {
    get available() {
      return retries.available;
    },
    async write(chunk: NdjsonChunk) {
      if (chunk.bytes.length === 0) return;
      await retries.deliver((signal) => post(chunk.bytes, signal));
    },
    async close() {
      retries.close();
      agent.destroy();
    },
  };
}
