/** One HTTP request over a keep-alive agent, the body read as text. Shared by the HTTP sink and the remote source feed. */
import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body as received (protobuf answers are not text). */
  bytes: Buffer;
}

export interface HttpRequestOptions {
  method: 'POST' | 'GET';
  agent: http.Agent;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

export function createKeepAliveAgent(url: URL): http.Agent {
  const options = { keepAlive: true, maxSockets: 4, keepAliveMsecs: 1000 };
  return url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
}

/** Resolves with any status; rejects only when no response came (connection refused, reset, timeout, abort). */
export function sendRequest(url: URL, options: HttpRequestOptions): Promise<HttpResponse> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      { method: options.method, agent: options.agent, headers: options.headers, timeout: options.timeoutMs, signal: options.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Statuses worth retrying: the receiver is overloaded or temporarily broken, not refusing the data. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Retry-After in seconds (delta form only; dates are rare from the receivers we talk to). */
export function retryAfterSeconds(headers: http.IncomingHttpHeaders): number | undefined {
  const value = headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The first part of a response body, one line, for error messages. */
export function bodySnippet(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
