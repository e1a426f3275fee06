/**
 * Watch requests and the open watch streams: replay from a resourceVersion (or the current state
 * as ADDED events), live changes as this watcher's selection sees them, BOOKMARKs, the server-side
 * timeout, 410 Expired for compacted history; and the faults that act on open streams.
 */
import type { ServerResponse } from 'node:http';
import { parseRv } from './list.ts';
import type { Reply, SimLogger } from './reply.ts';
import { objectKindOf, withKindJson, type ResourceRoute } from './routes.ts';
import { inSelection, selectionOf, type Selection } from './selectors.ts';
import { expiredStatus, tooLargeStatus, type StatusJson } from './status.ts';
import type { Change, ObjectStore } from './store.ts';
import type { KubeObject } from './types.ts';

export interface WatchStreamsOptions {
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK. */
  bookmarkIntervalMs: number;
  /** A watch without timeoutSeconds ends after a random time in this range. */
  timeoutSeconds: { min: number; max: number };
  random: () => number;
}

interface WatchStream extends Selection {
  res: ServerResponse;
  /** A dead stream stays open but never writes again (silenceWatches). */
  dead: boolean;
  timers: NodeJS.Timeout[];
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

/** Whether a request on a resource path is a watch: the deprecated /watch/ path or `watch=true`. */
export function isWatchRequest(route: ResourceRoute, params: URLSearchParams): boolean {
  return route.watchPath || isTrue(params.get('watch'));
}

export class WatchStreams {
  readonly #store: ObjectStore;
  readonly #logger: SimLogger;
  readonly #options: WatchStreamsOptions;
  readonly #streams = new Set<WatchStream>();
  readonly #countWaiters = new Set<() => void>();
  /** While set, streams (open and new) stay open but send nothing (faults.silenceWatches). */
  #silenced = false;

  constructor(store: ObjectStore, logger: SimLogger, options: WatchStreamsOptions) {
    this.#store = store;
    this.#logger = logger;
    this.#options = options;
  }

  get count(): number {
    return this.#streams.size;
  }

  /** Checks a watch request's parameters, then opens its stream (or answers 4xx). */
  serve(reply: Reply, route: ResourceRoute, params: URLSearchParams): void {
    const selection = selectionOf(route, params);
    if (!selection.ok) return reply.badRequest(selection.field, `${selection.field}: ${selection.error}`, selection.error);
    const rvText = params.get('resourceVersion') ?? '';
    const match = params.get('resourceVersionMatch') ?? '';
    const sendInitialEvents = params.has('sendInitialEvents') ? isTrue(params.get('sendInitialEvents')) : undefined;
    const bookmarks = isTrue(params.get('allowWatchBookmarks'));
    const timeoutText = params.get('timeoutSeconds');
    if (timeoutText !== null && timeoutText !== '' && !/^\d+$/.test(timeoutText)) {
      return reply.badRequest('timeoutSeconds', `timeoutSeconds: invalid value "${timeoutText}": must be a non-negative integer`);
    }
    if (sendInitialEvents !== undefined) {
      if (match !== 'NotOlderThan') return reply.badRequest('resourceVersionMatch', 'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
      if (sendInitialEvents && !bookmarks) return reply.badRequest('allowWatchBookmarks', 'allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true');
    } else if (match !== '') {
      return reply.badRequest('resourceVersionMatch', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    }
    const store = this.#store;
    const current = store.resourceVersion;
    const rv = rvText === '' ? 0 : parseRv(rvText);
    if (rv === undefined) return reply.badRequest('resourceVersion', `resourceVersion: Invalid value: "${rvText}": must be a decimal resource version`);
    if (rv > current) return reply.status(tooLargeStatus(rv, current));

    const res = reply.res;
    const stream: WatchStream = { ...selection.value, res, dead: false, timers: [] };
    reply.openStream();
    this.#streams.add(stream);
    this.#notifyCount();
    res.on('close', () => this.#end(stream));
    this.#logger.debug({ path: reply.record?.path, kind: route.kind, resourceVersion: rvText }, 'sim: watch opened');
    if (this.#silenced) {
      this.#kill(stream);
      return;
    }

    // RV unset/0 means "any state": the current one as ADDED events, unless sendInitialEvents=false
    // asks for changes from now on only.
    const initial = sendInitialEvents === true || (sendInitialEvents === undefined && rv === 0);
    if (initial) {
      for (const object of store.list(route.kind)) {
        if (inSelection(stream, object)) this.#write(stream, 'ADDED', object);
      }
      if (sendInitialEvents) {
        this.#writeLine(stream, { type: 'BOOKMARK', object: { kind: objectKindOf(route.kind), apiVersion: 'v1', metadata: { resourceVersion: String(current), annotations: { 'k8s.io/initial-events-end': 'true' } } } });
      }
    } else if (rv !== 0) {
      const changes = store.changesSince(rv);
      if (!changes) {
        this.#writeLine(stream, { type: 'ERROR', object: expiredStatus(rv, store.floor) });
        res.end();
        return;
      }
      for (const change of changes) this.#deliver(stream, change);
    }

    const timeoutSeconds = timeoutText !== null && timeoutText !== '' && Number(timeoutText) > 0 ? Number(timeoutText) : this.#defaultTimeoutSeconds();
    stream.timers.push(setTimeout(() => {
      if (!stream.dead) res.end();
    }, timeoutSeconds * 1000));
    if (bookmarks) {
      stream.timers.push(setInterval(() => {
        this.#writeLine(stream, { type: 'BOOKMARK', object: { kind: objectKindOf(route.kind), apiVersion: 'v1', metadata: { resourceVersion: String(store.resourceVersion) } } });
      }, this.#options.bookmarkIntervalMs));
    }
  }

  /** A change of the store, sent to every stream of its kind. */
  dispatch(change: Change): void {
    for (const stream of this.#streams) {
      if (stream.kind === change.kind) this.#deliver(stream, change);
    }
  }

  /** Ends every open stream cleanly, as the server does on its own timeout. */
  closeAll(): void {
    for (const stream of [...this.#streams]) stream.res.end();
  }

  /** Destroys every open stream's socket mid-stream (the client sees "terminated"). */
  destroyAll(): void {
    for (const stream of [...this.#streams]) stream.res.destroy();
  }

  /** Sends every open stream an ERROR event carrying `status`, then ends it. */
  failAll(status: StatusJson): void {
    for (const stream of [...this.#streams]) {
      this.#writeLine(stream, { type: 'ERROR', object: status });
      if (!stream.dead) stream.res.end();
    }
  }

  /** On: every open and new stream goes dead (open, silent). Off: new streams work again. */
  silence(on: boolean): void {
    this.#silenced = on;
    if (on) for (const stream of this.#streams) this.#kill(stream);
  }

  /** Resolves once `count` watch streams are open; rejects after `timeoutMs`. */
  waitForCount(count: number, timeoutMs: number): Promise<void> {
    if (this.#streams.size === count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.#streams.size !== count) return;
        clearTimeout(timer);
        this.#countWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#countWaiters.delete(check);
        reject(new Error(`expected ${count} open watch stream(s) within ${timeoutMs} ms, have ${this.#streams.size}`));
      }, timeoutMs);
      this.#countWaiters.add(check);
    });
  }

  #defaultTimeoutSeconds(): number {
    const range = this.#options.timeoutSeconds;
    return range.min + this.#options.random() * Math.max(0, range.max - range.min);
  }

  /** Turns a change into what this watcher sees: objects entering or leaving its selection become ADDED/DELETED. */
  #deliver(stream: WatchStream, change: Change): void {
    if (change.kind !== stream.kind || stream.dead) return;
    const wasIn = change.previous !== undefined && inSelection(stream, change.previous);
    if (change.type === 'DELETED') {
      if (wasIn) this.#write(stream, 'DELETED', change.object);
      return;
    }
    const isIn = inSelection(stream, change.object);
    if (isIn) this.#write(stream, wasIn ? 'MODIFIED' : 'ADDED', change.object);
    else if (wasIn && change.previous) {
      // The real cacher sends the previous state, stamped with the RV of the change that moved it out.
      this.#write(stream, 'DELETED', { ...change.previous, metadata: { ...change.previous.metadata, resourceVersion: String(change.rv) } });
    }
  }

  #write(stream: WatchStream, type: string, object: KubeObject): void {
    if (stream.dead || stream.res.writableEnded || stream.res.destroyed) return;
    stream.res.write(`{"type":"${type}","object":${withKindJson(stream.kind, this.#store.jsonOf(object))}}\n`);
  }

  #writeLine(stream: WatchStream, event: unknown): void {
    if (stream.dead || stream.res.writableEnded || stream.res.destroyed) return;
    stream.res.write(`${JSON.stringify(event)}\n`);
  }

  #kill(stream: WatchStream): void {
    stream.dead = true;
    for (const timer of stream.timers) clearTimeout(timer);
    stream.timers = [];
  }

  #end(stream: WatchStream): void {
    if (!this.#streams.delete(stream)) return;
    for (const timer of stream.timers) clearTimeout(timer);
    stream.timers = [];
    this.#notifyCount();
  }

  #notifyCount(): void {
    for (const waiter of [...this.#countWaiters]) waiter();
  }
}
