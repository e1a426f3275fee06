/**
 * The request bytes being enriched and answered at once, across all requests (server.
 * maxInflightBytes). While a batch is enriched, its parsed events and their records take several
 * times its size in heap, so this budget is what keeps a burst of large requests from growing the
 * process past its memory limit. A request that would go beyond it is answered 503 with
 * Retry-After, before its body is read when it declares its size.
 *
 * A request holds its share from the moment its body is read until its answer is done (sent,
 * failed or abandoned by the client): its records live until then.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';

export class ByteBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Takes `bytes` if they fit, all or nothing. With nothing in flight anything fits: a request
   * larger than the budget (maxBodyBytes above it) runs alone rather than never.
   */
  tryTake(bytes: number): boolean {
    if (this.#used > 0 && this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/** One request's share of the budget; released once, when its response closes. */
class Reservation {
  readonly #budget: ByteBudget;
  #bytes = 0;
  #released = false;

  constructor(budget: ByteBudget) {
    this.#budget = budget;
  }

  take(bytes: number): boolean {
    if (this.#released || !this.#budget.tryTake(bytes)) return false;
    this.#bytes += bytes;
    return true;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#budget.give(this.#bytes);
    this.#bytes = 0;
  }
}

/** Seconds a refused client waits: requests are answered in well under that. */
const RETRY_AFTER_SECONDS = 1;

export function busy(limit: number): ApiError {
  return new ApiError(
    503,
    'busy',
    'the service is enriching as much as it may at once, retry later',
    [{ message: `requests being enriched hold ${limit} bytes already (server.maxInflightBytes); retry after Retry-After seconds` }],
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  );
}

/**
 * A body of unknown size (compressed, or sent without Content-Length) takes its share as it
 * arrives. Fastify reads `receivedEncodedLength` from the stream it is given to compare it with
 * Content-Length: passed on from the decoded body under this one.
 */
class BudgetedBody extends Transform {
  readonly #source: Readable & { receivedEncodedLength?: number };
  readonly #reservation: Reservation;
  readonly #limit: number;
  #received = 0;

  constructor(source: Readable & { receivedEncodedLength?: number }, reservation: Reservation, limit: number) {
    super();
    this.#source = source;
    this.#reservation = reservation;
    this.#limit = limit;
  }

  get receivedEncodedLength(): number {
    return this.#source.receivedEncodedLength ?? this.#received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    if (!this.#reservation.take(chunk.length)) {
      callback(busy(this.#limit));
      return;
    }
    callback(null, chunk);
  }
}

/** The size a body declares, when it is its size once read: Content-Length of an uncompressed body. */
function declaredBytes(headers: Record<string, string | string[] | undefined>): number | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return undefined;
  const length = Number(headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/**
 * A preParsing hook for the routes of `app` (register it after content decoding, so it counts
 * decoded bytes). Bodies over maxBodyBytes are left to Fastify's 413.
 */
export function installInflightBudget(app: FastifyInstance, budget: ByteBudget, maxBodyBytes: number): void {
  app.addHook('preParsing', async (request, reply, payload) => {
    const reservation = new Reservation(budget);
    reply.raw.once('close', () => reservation.release());
    const declared = declaredBytes(request.headers);
    if (declared === undefined) {
      const body = new BudgetedBody(payload, reservation, budget.limit);
      // What fails below (a body that does not decode, a client gone) is this body's error too.
      payload.on('error', (err) => body.destroy(err));
      // Refused part-way: the rest of the request is read and discarded, so the answer can be sent.
      body.once('error', () => {
        payload.unpipe(body);
        payload.resume();
      });
      return payload.pipe(body);
    }
    if (declared <= maxBodyBytes && !reservation.take(declared)) throw busy(budget.limit);
    return payload;
  });
}
