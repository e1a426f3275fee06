/**
 * The request bytes being enriched and answered at once, across all requests and /v1/ingest
 * messages (server.maxInflightBytes). While a batch is enriched, its parsed events and their
 * records take several times its size in heap, so this budget is what keeps a burst of large
 * requests from growing the process past its memory limit.
 *
 * A request that does not fit waits, its body unread, up to server.maxInflightWait for room (in
 * arrival order: a large request is not starved by smaller ones behind it), and only then is
 * answered 503 with Retry-After. Shippers that retry at once (most ignore Retry-After) would
 * otherwise send the same bytes again and again while the burst lasts. A /v1/ingest connection
 * cannot be answered 503: it waits for as long as it takes, its socket unread (see
 * ingest-connection.ts).
 *
 * A request holds its share from the moment its body may be read until its answer is done (sent,
 * failed or abandoned by the client): its records live until then.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';

interface Waiter {
  bytes: number;
  resolve: (granted: boolean) => void;
}

/** What the budget holds and how many wait for it, after each change (for the metrics). */
export type BudgetObserver = (usedBytes: number, waiting: number) => void;

export class ByteBudget {
  readonly limit: number;
  readonly #observe: BudgetObserver | undefined;
  #used = 0;
  /** First come, first served: a waiter is granted only once those before it are. */
  readonly #waiters: Waiter[] = [];

  constructor(limit: number, observe?: BudgetObserver) {
    this.limit = limit;
    this.#observe = observe;
  }

  get used(): number {
    return this.#used;
  }

  /** Takers waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes `bytes` at once if they fit and nobody waits ahead, all or nothing. With nothing in
   * flight anything fits: a request larger than the budget runs alone rather than never.
   * `ahead`: the next part of a body already admitted, which goes ahead of the waiters (they wait
   * for it to be done).
   */
  tryTake(bytes: number, ahead = false): boolean {
    if ((!ahead && this.#waiters.length > 0) || !this.#fits(bytes)) return false;
    this.#used += bytes;
    this.#changed();
    return true;
  }

  /**
   * Takes `bytes`, waiting for room up to `waitMs` (Infinity: as long as it takes) unless `signal`
   * aborts first. Resolves false when it gave up.
   */
  take(bytes: number, waitMs: number, options: { signal?: AbortSignal | undefined; ahead?: boolean } = {}): Promise<boolean> {
    const ahead = options.ahead === true;
    if (this.tryTake(bytes, ahead)) return Promise.resolve(true);
    const signal = options.signal;
    if (waitMs <= 0 || signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (granted: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        resolve(granted);
      };
      const waiter: Waiter = { bytes, resolve: settle };
      const giveUp = (): void => {
        const at = this.#waiters.indexOf(waiter);
        if (at < 0) return;
        this.#waiters.splice(at, 1);
        settle(false);
        // The waiter it leaves may have held back smaller ones that fit.
        this.#grant();
        this.#changed();
      };
      if (Number.isFinite(waitMs)) timer = setTimeout(giveUp, waitMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      if (ahead) this.#waiters.unshift(waiter);
      else this.#waiters.push(waiter);
      this.#changed();
    });
  }

  give(bytes: number): void {
    if (bytes === 0) return;
    this.#used -= bytes;
    this.#grant();
    this.#changed();
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.limit;
  }

  /** Wakes the waiters at the head of the line, as many as fit, in order. */
  #grant(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#used += waiter.bytes;
      waiter.resolve(true);
    }
  }

  #changed(): void {
    this.#observe?.(this.#used, this.#waiters.length);
  }
}

/**
 * One request's (or one /v1/ingest message's) share of the budget, taken in one or more parts and
 * given back once, whole. Its wait for room is `waitMs` in all, however many parts wait.
 */
export class Reservation {
  readonly #budget: ByteBudget;
  readonly #deadline: number;
  readonly #released = new AbortController();
  #bytes = 0;

  constructor(budget: ByteBudget, waitMs: number) {
    this.#budget = budget;
    this.#deadline = Date.now() + waitMs;
  }

  /** Takes `bytes` now if they fit (see ByteBudget.tryTake). */
  tryTake(bytes: number, ahead = false): boolean {
    if (this.#released.signal.aborted || !this.#budget.tryTake(bytes, ahead)) return false;
    this.#bytes += bytes;
    return true;
  }

  /** Takes `bytes`, waiting for room what is left of this reservation's wait; false when it gave up or was released. */
  async take(bytes: number, ahead = false): Promise<boolean> {
    if (this.#released.signal.aborted) return false;
    const granted = await this.#budget.take(bytes, this.#deadline - Date.now(), { signal: this.#released.signal, ahead });
    if (!granted) return false;
    // Released while the grant was on its way: given back at once.
    if (this.#released.signal.aborted) {
      this.#budget.give(bytes);
      return false;
    }
    this.#bytes += bytes;
    return true;
  }

  /** Gives back what was taken and ends any wait; later calls do nothing. */
  release(): void {
    if (this.#released.signal.aborted) return;
    this.#released.abort();
    this.#budget.give(this.#bytes);
    this.#bytes = 0;
  }
}

/** Seconds a refused client waits: requests are answered in well under that. */
const RETRY_AFTER_SECONDS = 1;

export function busy(limit: number, waitMs: number): ApiError {
  return new ApiError(
    503,
    'busy',
    'the service is enriching as much as it may at once, retry later',
    [
      {
        message:
          `requests being enriched held ${limit} bytes (server.maxInflightBytes) for the ${waitMs / 1000} s this one waited ` +
          '(server.maxInflightWait); retry after Retry-After seconds',
      },
    ],
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  );
}

/**
 * A body of unknown size (compressed, or sent without Content-Length) takes its share as it
 * arrives; a part that does not fit waits (and with it the reading of the body). Fastify reads
 * `receivedEncodedLength` from the stream it is given to compare it with Content-Length: passed
 * on from the decoded body under this one.
 */
class BudgetedBody extends Transform {
  readonly #source: Readable & { receivedEncodedLength?: number };
  readonly #reservation: Reservation;
  readonly #refusal: () => ApiError;
  #received = 0;

  constructor(source: Readable & { receivedEncodedLength?: number }, reservation: Reservation, refusal: () => ApiError) {
    super();
    this.#source = source;
    this.#reservation = reservation;
    this.#refusal = refusal;
  }

  get receivedEncodedLength(): number {
    return this.#source.receivedEncodedLength ?? this.#received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    // Parts after the first go ahead of new requests: those wait for this body to be done.
    const ahead = this.#received > chunk.length;
    if (this.#reservation.tryTake(chunk.length, ahead)) {
      callback(null, chunk);
      return;
    }
    void this.#reservation.take(chunk.length, ahead).then((granted) => (granted ? callback(null, chunk) : callback(this.#refusal())));
  }
}

/** The size a body declares, when it is its size once read: Content-Length of an uncompressed body. */
function declaredBytes(headers: Record<string, string | string[] | undefined>): number | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return undefined;
  const length = Number(headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

export interface InflightLimits {
  /** server.maxBodyBytes: a larger body is left to Fastify's 413. */
  maxBodyBytes: number;
  /** server.maxInflightWait: how long a request waits for room before its 503. */
  waitMs: number;
}

/**
 * A preParsing hook for the routes of `app` (register it after content decoding, so it counts
 * decoded bytes).
 */
export function installInflightBudget(app: FastifyInstance, budget: ByteBudget, limits: InflightLimits): void {
  const refusal = (): ApiError => busy(budget.limit, limits.waitMs);
  app.addHook('preParsing', async (request, reply, payload) => {
    const reservation = new Reservation(budget, limits.waitMs);
    // Also when the client goes away while its request waits: the wait ends with it.
    reply.raw.once('close', () => reservation.release());
    const declared = declaredBytes(request.headers);
    if (declared === undefined) {
      const body = new BudgetedBody(payload, reservation, refusal);
      // What fails below (a body that does not decode, a client gone) is this body's error too.
      payload.on('error', (err) => body.destroy(err));
      // Refused part-way: the rest of the request is read and discarded, so the answer can be sent.
      body.once('error', () => {
        payload.unpipe(body);
        payload.resume();
      });
      return payload.pipe(body);
    }
    if (declared <= limits.maxBodyBytes && !(await reservation.take(declared))) throw refusal();
    return payload;
  });
}
