/**
 * Fault injection (`sim.faults`, README.md "Faults"): the fault state the request handler
 * consults (failure rules, latency, token, forbidden kinds, a held watch cache) and the controls
 * tests call, some of which act on the open watch streams at once.
 */
import type { ResourceRoute, Route, Verb } from './routes.ts';
import { expiredStatus, failureStatus, reasonFor, type StatusJson } from './status.ts';
import type { ObjectStore } from './store.ts';
import type { SimKind } from './types.ts';
import type { WatchStreams } from './watch-streams.ts';

export type FaultVerb = Verb | 'any';

export interface FailNextOptions {
  verb?: FaultVerb;
  kind?: SimKind;
  /** Sent as a Retry-After header and in the Status details (429/503/504). */
  retryAfterSeconds?: number;
}

interface FailureRule {
  remaining: number;
  status: number;
  verb: FaultVerb;
  kind: SimKind | undefined;
  retryAfterSeconds: number | undefined;
}

/** What the request handler asks before answering. */
export class FaultState {
  failureRules: FailureRule[] = [];
  latencyMs = 0;
  /** Set while the watch cache is held back (holdWatchCache): the resourceVersion it stays at. */
  heldCacheRv: number | undefined = undefined;
  requiredToken: string | undefined;
  readonly forbidden = new Set<SimKind>();
  readonly #store: ObjectStore;

  constructor(store: ObjectStore, token: string | undefined) {
    this.#store = store;
    this.requiredToken = token;
  }

  /** The injected failure this request gets, if a rule matches it (counted down). */
  takeFailure(route: Route, verb: Verb | undefined): { status: StatusJson; headers: Record<string, string> | undefined } | undefined {
    const kind = route.type === 'resource' ? route.kind : undefined;
    const index = this.failureRules.findIndex(
      (r) => r.remaining > 0 && (r.verb === 'any' || r.verb === verb) && (r.kind === undefined || r.kind === kind),
    );
    if (index < 0) return undefined;
    const rule = this.failureRules[index] as FailureRule;
    rule.remaining--;
    if (rule.remaining <= 0) this.failureRules.splice(index, 1);
    return this.#failure(rule, route, verb);
  }

  #failure(rule: FailureRule, route: Route, verb: Verb | undefined): { status: StatusJson; headers: Record<string, string> | undefined } {
    const code = rule.status;
    const retry = rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : undefined;
    let status: StatusJson;
    if (code === 401) status = failureStatus(401, 'Unauthorized');
    else if (code === 403 && route.type === 'resource') status = forbiddenStatus(route, verb ?? 'get');
    else if (code === 410) status = expiredStatus(0, this.#store.floor);
    else if (code === 429) status = failureStatus(429, 'Too many requests, please try again later.', retry);
    else if (code === 503) status = failureStatus(503, 'the server is currently unable to handle the request', retry);
    else if (code === 504) status = failureStatus(504, 'Timeout: request did not complete within the allotted timeout', retry);
    else status = failureStatus(code, `Internal error occurred: injected fault (HTTP ${code})`, retry, reasonFor(code) === 'Unknown' ? 'InternalError' : reasonFor(code));
    const headers = retry ? { 'Retry-After': String(retry.retryAfterSeconds) } : undefined;
    return { status, headers };
  }
}

export function forbiddenStatus(route: ResourceRoute, verb: Verb): StatusJson {
  const scope = route.namespace !== undefined ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
  const subject = route.name !== undefined ? `${route.kind} "${route.name}"` : route.kind;
  const details: { kind: string; name?: string } = { kind: route.kind };
  if (route.name !== undefined) details.name = route.name;
  return failureStatus(403, `${subject} is forbidden: User "system:serviceaccount:kube-system:kube-log-enricher" cannot ${verb} resource "${route.kind}" in API group "" ${scope}`, details);
}

/** The controls of `sim.faults`. */
export interface SimFaults {
  /** The next `count` matching requests are answered with a Status of that HTTP code. */
  failNext(count: number, status: number, options?: FailNextOptions): void;
  /** Ends every open watch stream cleanly, as the server does on its own timeout. */
  closeWatches(): void;
  /** Destroys every open watch socket mid-stream (the client sees "terminated"). */
  destroyWatches(): void;
  /**
   * Sends every open watch an ERROR event carrying a Status of that code, then ends it (what the
   * real server does on internal watch errors; a 410 here is the Expired one).
   */
  errorWatches(code?: number, message?: string): void;
  /**
   * While on, watch streams (open and new) stay open but send nothing, not even their end: a dead
   * connection. Streams silenced once stay dead after it is turned off; new ones then work again.
   */
  silenceWatches(on: boolean): void;
  /**
   * While on, the watch cache stays at the resourceVersion it had: lists with
   * `resourceVersion=0` answer that older state (as a lagging cache, or another API server
   * behind the same load balancer, would). Off: it has caught up again.
   */
  holdWatchCache(on: boolean): void;
  /** Delays every answer (and the start of every watch) by `ms`. */
  setLatency(ms: number): void;
  /** Forgets all history: a watch or exact list from an older RV, or an old continue token, gets 410. */
  compact(): void;
  /** 401 for a missing or wrong bearer token; undefined turns the check off. */
  requireToken(token: string | undefined): void;
  /** 403 for every request on that kind; undefined lifts every prohibition. */
  forbid(kind: SimKind | undefined): void;
  /** Lifts every fault (the token requirement given at start is kept). */
  reset(): void;
}

export function simFaults(state: FaultState, watches: WatchStreams, store: ObjectStore): SimFaults {
  return {
    failNext: (count, status, options = {}) => {
      state.failureRules.push({ remaining: count, status, verb: options.verb ?? 'any', kind: options.kind, retryAfterSeconds: options.retryAfterSeconds });
    },
    closeWatches: () => watches.closeAll(),
    destroyWatches: () => watches.destroyAll(),
    errorWatches: (code = 500, message) => {
      const status = code === 410
        ? expiredStatus(0, store.floor)
        : failureStatus(code, message ?? `an error on the server ("unable to decode an event from the watch stream: injected fault") has prevented the request from succeeding`, undefined, code === 500 ? 'InternalError' : reasonFor(code));
      watches.failAll(status);
    },
    silenceWatches: (on) => watches.silence(on),
    holdWatchCache: (on) => {
      state.heldCacheRv = on ? (state.heldCacheRv ?? store.resourceVersion) : undefined;
    },
    setLatency: (ms) => {
      state.latencyMs = Math.max(0, ms);
    },
    compact: () => store.compact(),
    requireToken: (token) => {
      state.requiredToken = token;
    },
    forbid: (kind) => {
      if (kind === undefined) state.forbidden.clear();
      else state.forbidden.add(kind);
    },
    reset: () => {
      state.failureRules = [];
      state.latencyMs = 0;
      watches.silence(false);
      state.heldCacheRv = undefined;
      state.forbidden.clear();
    },
  };
}
