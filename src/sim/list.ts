/**
 * List requests: selectors, `limit`/`continue` paging over a consistent snapshot, the
 * `resourceVersion` / `resourceVersionMatch` semantics, and the watch cache that answers
 * `resourceVersion=0` (README.md, "Protocol").
 */
import type { Reply } from './reply.ts';
import { listKindOf, type ResourceRoute } from './routes.ts';
import { inSelection, selectionOf } from './selectors.ts';
import { expiredStatus, failureStatus, tooLargeStatus } from './status.ts';
import type { KindState, ObjectStore } from './store.ts';

export interface ListOptions {
  /** How a `resourceVersion=0` list treats `limit` (SimApiServerOptions.watchCacheLimit). */
  watchCacheLimit: 'ignored' | 'honoured' | undefined;
  /** The resourceVersion the watch cache is held at (faults.holdWatchCache), if it is. */
  heldCacheRv: number | undefined;
}

export function parseRv(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start })).toString('base64');
}

function decodeContinue(text: string): ContinueToken | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return 'continue key is not valid: not base64-encoded JSON';
  }
  if (parsed === null || typeof parsed !== 'object') return 'continue key is not valid: not an object';
  const { v, rv, start } = parsed as Record<string, unknown>;
  if (v !== 'meta.k8s.io/v1') return 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)';
  if (typeof rv !== 'number' || !Number.isInteger(rv) || rv === 0 || rv < -1) return 'continue key is not valid: incorrect encoded start resourceVersion';
  if (typeof start !== 'string' || start === '') return 'continue key is not valid: encoded start key empty';
  return { rv, start };
}

const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export function serveList(reply: Reply, route: ResourceRoute, params: URLSearchParams, store: ObjectStore, options: ListOptions): Promise<void> | void {
  const selection = selectionOf(route, params);
  if (!selection.ok) return reply.badRequest(selection.field, `${selection.field}: ${selection.error}`, selection.error);
  const limitText = params.get('limit');
  const limit = limitText === null || limitText === '' ? 0 : /^-?\d+$/.test(limitText) ? Number(limitText) : NaN;
  if (Number.isNaN(limit)) return reply.badRequest('limit', `limit: invalid value "${limitText}": must be an integer`);
  const rvText = params.get('resourceVersion') ?? '';
  const match = params.get('resourceVersionMatch') ?? '';
  const continueText = params.get('continue') ?? '';
  const current = store.resourceVersion;

  let snapshotRv = current;
  let state: KindState | undefined;
  let start = '';
  let fromCache = false;
  if (continueText !== '') {
    if (rvText !== '' && rvText !== '0') return reply.badRequest('resourceVersion', 'specifying resource version is not allowed when using continue');
    if (match !== '') return reply.badRequest('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
    const token = decodeContinue(continueText);
    if (typeof token === 'string') return reply.badRequest('continue', token);
    start = token.start;
    if (token.rv !== -1) {
      if (token.rv > current) return reply.badRequest('continue', 'continue key is not valid: resourceVersion is in the future');
      snapshotRv = token.rv;
      state = store.state(route.kind, token.rv);
      if (!state) {
        const status = failureStatus(410, CONTINUE_EXPIRED_MESSAGE, undefined, 'Expired');
        status.metadata.continue = encodeContinue({ rv: -1, start });
        return reply.status(status);
      }
    }
  } else {
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      return reply.badRequest('resourceVersionMatch', `resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (match !== '' && rvText === '') return reply.badRequest('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (match === 'Exact' && rvText === '0') return reply.badRequest('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    if (rvText === '0') {
      // Any state will do: the watch cache answers, not etcd, and it may be a little behind.
      fromCache = true;
      const held = options.heldCacheRv;
      // A held cache whose state etcd compacted away has caught up (real caches never lose theirs).
      state = held === undefined ? undefined : store.state(route.kind, held);
      if (state !== undefined && held !== undefined) snapshotRv = held;
    } else if (rvText !== '') {
      const rv = parseRv(rvText);
      if (rv === undefined) return reply.badRequest('resourceVersion', `resourceVersion: Invalid value: "${rvText}": must be a decimal resource version`);
      if (rv > current) return reply.status(tooLargeStatus(rv, current));
      if (match === 'Exact') {
        state = store.state(route.kind, rv);
        if (!state) return reply.status(expiredStatus(rv, store.floor));
        snapshotRv = rv;
      }
    }
  }
  // The current state: no continue, an inconsistent (rv -1) continue, or any RV but Exact.
  state ??= store.state(route.kind) as KindState;

  // The page is taken synchronously (a consistent read); only sending it waits for the client.
  const page: string[] = [];
  let nextKey: string | undefined;
  const prefix = route.namespace !== undefined ? `${route.namespace}/` : '';
  const pageLimit = fromCache && options.watchCacheLimit !== 'honoured' ? 0 : limit;
  for (const [key, object] of state.entries(prefix, start)) {
    if (pageLimit > 0 && page.length >= pageLimit) {
      // Like etcd paging: more keys in range means a continue token, whether or not they match.
      nextKey = key;
      break;
    }
    if (inSelection(selection.value, object)) page.push(store.jsonOf(object));
  }
  const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion: String(snapshotRv) };
  if (nextKey !== undefined) {
    metadata.continue = encodeContinue({ rv: snapshotRv, start: nextKey });
    if (selection.value.labels.requirements.length === 0 && selection.value.fields.length === 0) metadata.remainingItemCount = state.count(prefix, nextKey);
  }
  const head = `{"kind":"${listKindOf(route.kind)}","apiVersion":"v1","metadata":${JSON.stringify(metadata)},"items":[`;
  return reply.list(head, page, ']}');
}
