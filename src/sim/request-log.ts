/** The simulated API server's record of the requests it received, for tests to assert on. */
import type { IncomingMessage } from 'node:http';
import type { Route, Verb } from './routes.ts';
import type { SimKind } from './types.ts';

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** HTTP status answered; 0 while the request is still being answered (latency). */
  status: number;
  verb: Verb | undefined;
  kind: SimKind | undefined;
  /** The request's User-Agent header, as audit logs and API priority and fairness see it. */
  userAgent: string | undefined;
  /** For a list: the objects its page returned. */
  items?: number;
}

/** The most recent requests, oldest first, bounded so a long-running demo does not grow without end. */
export class RequestLog {
  /** The records themselves (one array for the log's lifetime). */
  readonly entries: RequestRecord[] = [];
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /** Records a request as it arrives; its status is filled in when it is answered. */
  add(req: IncomingMessage, url: URL, route: Route | undefined, verb: Verb | undefined): RequestRecord {
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      verb,
      kind: route?.type === 'resource' ? route.kind : undefined,
      userAgent: req.headers['user-agent'],
    };
    this.entries.push(record);
    if (this.entries.length > this.#limit) this.entries.splice(0, this.entries.length - this.#limit);
    return record;
  }
}
