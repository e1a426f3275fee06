/**
 * Answering one request of the simulated API server: JSON and Status bodies, lists streamed in
 * chunks with backpressure, the head of a watch stream. The request's log entry gets the status.
 */
import type { ServerResponse } from 'node:http';
import { failureStatus, type StatusJson } from './status.ts';
import type { RequestRecord } from './request-log.ts';

/** Structurally compatible with pino's logger; the server never logs tokens. */
export interface SimLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const NOOP_LOGGER: SimLogger = { debug() {}, info() {}, warn() {} };

/** Bytes of list items joined into one write: big enough for few syscalls, small enough to stream. */
const LIST_CHUNK_CHARS = 1 << 20;

/** Resolves true once `res` can take more, false if it closed first (the client went away). */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

export class Reply {
  readonly res: ServerResponse;
  /** Undefined for a request that failed before it was recorded. */
  readonly record: RequestRecord | undefined;
  readonly #logger: SimLogger;

  constructor(res: ServerResponse, record: RequestRecord | undefined, logger: SimLogger) {
    this.res = res;
    this.record = record;
    this.#logger = logger;
  }

  json(code: number, body: unknown, headers?: Record<string, string>): void {
    this.text(code, JSON.stringify(body), headers);
  }

  /** `text` is JSON already. */
  text(code: number, text: string, headers?: Record<string, string>): void {
    if (this.record) this.record.status = code;
    this.res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    this.res.end(text);
    this.#logger.debug({ path: this.record?.path, status: code }, 'sim: request');
  }

  status(status: StatusJson, headers?: Record<string, string>): void {
    this.json(status.code, status, headers);
  }

  /** 400 naming the parameter at fault in `details.causes[0].field`. */
  badRequest(field: string, message: string, causeMessage = message): void {
    this.status(failureStatus(400, message, { causes: [{ reason: 'FieldValueInvalid', message: causeMessage, field }] }));
  }

  /** The plain "ok" of the health routes. */
  ok(): void {
    if (this.record) this.record.status = 200;
    this.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    this.res.end('ok');
  }

  /**
   * Sends a list as JSON text in chunks (chunked transfer, as the real server does for big lists),
   * waiting for the socket to drain between chunks: a 50,000-pod list never becomes one string.
   */
  async list(head: string, items: readonly string[], tail: string): Promise<void> {
    const res = this.res;
    if (this.record) {
      this.record.status = 200;
      this.record.items = items.length;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let chunk = head;
    for (let i = 0; i < items.length; i++) {
      chunk += i === 0 ? items[i] : `,${items[i]}`;
      if (chunk.length < LIST_CHUNK_CHARS) continue;
      if (!res.write(chunk) && !(await drained(res))) return;
      chunk = '';
    }
    res.end(chunk + tail);
    this.#logger.debug({ path: this.record?.path, status: 200, items: items.length }, 'sim: request');
  }

  /** The head of a watch: 200, chunked, sent at once (events follow as lines). */
  openStream(): void {
    if (this.record) this.record.status = 200;
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    this.res.flushHeaders();
  }
}
