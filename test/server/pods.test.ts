/**
 * GET /v1/pods: the store's pods, live and retained with the seconds left, filtered like
 * /v1/stream; a bad filter is a 400 naming the query parameter.
 */
import t from 'tap';
import { get, startStack, waitFor } from './harness.ts';

interface PodRow {
  namespace: string;
  name: string;
  state: 'live' | 'retained';
  containers: string[];
  deletedAt: string | null;
  retainedUntil: string | null;
  secondsLeft: number | null;
}
interface PodsAnswer {
  now: string;
  live: number;
  retained: number;
  truncated: boolean;
  pods: PodRow[];
}

async function pods(url: string, query = '', headers: Record<string, string> = {}): Promise<PodsAnswer> {
  const res = await get(`${url}/v1/pods${query}`, headers);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as PodsAnswer;
}

t.test('lists live pods, then a deleted pod as retained with the time left', async (t) => {
  const stack = await startStack(t);
  const all = await pods(stack.url);
  t.same(
    all.pods.map((p) => `${p.namespace}/${p.name}:${p.state}`),
    ['data/db-0:live', 'shop/cart-7d9f8-x2x4q:live', 'shop/front-5c6d7-abcde:live'],
    'sorted by namespace and name, all live',
  );
  t.equal(all.live, 3);
  t.equal(all.retained, 0);
  t.same(all.pods.find((p) => p.name === 'front-5c6d7-abcde')?.containers, ['front', 'sidecar']);

  stack.sim.delete('pods', 'shop', 'cart-7d9f8-x2x4q');
  const after = await waitFor(async () => {
    const answer = await pods(stack.url);
    return answer.retained === 1 ? answer : undefined;
  }, 'the deleted pod to be retained');
  const cart = after.pods.find((p) => p.name === 'cart-7d9f8-x2x4q')!;
  t.equal(cart.state, 'retained');
  t.ok(cart.deletedAt !== null && cart.retainedUntil !== null, 'deletedAt and retainedUntil are given');
  t.ok(cart.secondsLeft !== null && cart.secondsLeft > 0 && cart.secondsLeft <= 60, `seconds left within the 60 s deletion delay (${cart.secondsLeft})`);
  t.equal(Date.parse(cart.retainedUntil!) - Date.parse(cart.deletedAt!), 60_000, 'retained for the deletion delay');

  t.same((await pods(stack.url, '?state=retained')).pods.map((p) => p.name), ['cart-7d9f8-x2x4q'], 'state=retained');
  t.same((await pods(stack.url, '?state=live&namespace=shop')).pods.map((p) => p.name), ['front-5c6d7-abcde'], 'state and namespace combine');
  t.same((await pods(stack.url, '?labelSelector=tier%3Dweb,!canary')).pods.map((p) => p.name), ['cart-7d9f8-x2x4q'], 'label selector as /v1/stream takes it');
  t.same((await pods(stack.url, '?labelSelector=apps.kubernetes.io%2Fpod-index%3E-1')).pods.map((p) => p.name), ['db-0'], 'integer comparison');
});

t.test('a bad filter is a 400 naming the parameter', async (t) => {
  const stack = await startStack(t);
  const cases: [string, string][] = [
    ['?labelSelector=app%20in', 'labelSelector'],
    ['?labelSelector=' + 'a'.repeat(5000), 'labelSelector'],
    ['?state=deleted', 'state'],
    ['?namespace=', 'namespace'],
    ['?namespace=' + 'n'.repeat(300), 'namespace'],
  ];
  for (const [query, field] of cases) {
    const res = await get(`${stack.url}/v1/pods${query}`);
    t.equal(res.status, 400, `${query.slice(0, 40)}: 400`);
    const body = JSON.parse(res.text) as { error: string; details: { field?: string; message: string }[] };
    t.equal(body.details[0]?.field, field, `${query.slice(0, 40)}: names ${field}`);
    t.ok((body.details[0]?.message ?? '').length > 0, 'with a message');
  }
});

t.test('needs the token when server.authToken is set', async (t) => {
  const stack = await startStack(t, { config: { server: { authToken: 'pods-secret' } } });
  t.equal((await get(`${stack.url}/v1/pods`)).status, 401);
  t.equal((await pods(stack.url, '', { authorization: 'Bearer pods-secret' })).live, 3);
});
