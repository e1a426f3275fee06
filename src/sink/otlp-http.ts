/**
 * OTLP/HTTP for the OTLP sink (https://opentelemetry.io/docs/specs/otlp/#otlphttp): the request as
 * binary protobuf, gzipped, POSTed over a keep-alive connection. 200 carries an
 * ExportLogsServiceResponse (partial_success); 429, 502, 503 and 504 are worth retrying (with
 * Retry-After); any other status is a permanent refusal, its google.rpc.Status message quoted.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { decodeLogsResponse, decodeStatus } from '../otlp/proto.ts';
import { encodeNdjsonAsLogsRequest } from '../otlp/records.ts';
import { bodySnippet, createKeepAliveAgent, retryAfterSeconds, sendRequest, type HttpResponse } from './http-request.ts';
import type { ExportAttempt, OtlpTransport, OtlpTransportOptions } from './otlp.ts';
import type { OtlpSinkSpec } from './spec.ts';

const gzip = promisify(gzipCallback);

/** The statuses OTLP/HTTP clients retry; "all other 4xx or 5xx response status codes MUST NOT be retried". */
const RETRYABLE = new Set([429, 502, 503, 504]);

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };

export function createOtlpHttpTransport(spec: OtlpSinkSpec, options: OtlpTransportOptions): OtlpTransport {
  const agent = createKeepAliveAgent(spec.url);
  return {
    encode: (chunk) => encodeNdjsonAsLogsRequest(chunk.bytes),
    async send(request, signal): Promise<ExportAttempt> {
      const body = await gzip(request);
      let res: HttpResponse;
      try {
        res = await sendRequest(spec.url, { method: 'POST', agent, headers: HEADERS, body, timeoutMs: options.timeoutMs, signal });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return { kind: 'retry', problem: `${e.code ?? 'error'}: ${e.message}`, retryAfterSeconds: undefined };
      }
      if (res.status >= 200 && res.status < 300) return accepted(res);
      const problem = `HTTP ${res.status}: ${statusMessage(res)}`;
      if (RETRYABLE.has(res.status)) return { kind: 'retry', problem, retryAfterSeconds: retryAfterSeconds(res.headers) };
      return { kind: 'refused', problem, status: res.status };
    },
    close: () => agent.destroy(),
  };
}

function isJson(res: HttpResponse): boolean {
  return /^application\/json/i.test(res.headers['content-type'] ?? '');
}

function accepted(res: HttpResponse): ExportAttempt {
  let partial: { rejectedLogRecords?: string | number; errorMessage?: string } | undefined;
  try {
    partial = isJson(res) ? (JSON.parse(res.body) as { partialSuccess?: typeof partial }).partialSuccess : decodeLogsResponse(res.bytes).partialSuccess;
  } catch {
    // OTLP: a 2xx means the data was taken; an answer we cannot read changes nothing about that.
    partial = undefined;
  }
  return { kind: 'accepted', rejectedRecords: Number(partial?.rejectedLogRecords ?? 0), message: partial?.errorMessage ?? '' };
}

/** The google.rpc.Status message of an error answer, else the start of its body. */
function statusMessage(res: HttpResponse): string {
  if (/^application\/x-protobuf/i.test(res.headers['content-type'] ?? '')) {
    try {
      const message = decodeStatus(res.bytes).message;
      if (message !== undefined && message !== '') return message;
    } catch {
      // Not a Status after all: the body as text below.
    }
  }
  return bodySnippet(res.body);
}
