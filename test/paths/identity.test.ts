import t from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { podIdentityFromPath } from '../../src/paths/index.ts';
import type { PathMatch, PodLogIdentity } from '../../src/paths/index.ts';
import { configHash, containerId, containerLogPath, podLogPath, podUid } from '../builders/lines.ts';

function identity(path: string): PodLogIdentity {
  const m = podIdentityFromPath(path);
  if (!m.ok) throw new Error(`not recognised: ${m.detail}`);
  return m.identity;
}

function detail(m: PathMatch): string {
  if (m.ok) throw new Error(`unexpectedly recognised as ${JSON.stringify(m.identity)}`);
  if (m.reason !== 'path_not_recognised') throw new Error(`unexpected reason ${String(m.reason)}`);
  return m.detail;
}

const UID = podUid('shop/cart-7d9f8-x2x4q');
const ID = containerId('cart');

t.test('/var/log/pods: the live file', async (t) => {
  const path = podLogPath({ namespace: 'shop', pod: 'cart-7d9f8-x2x4q', uid: UID, container: 'cart', restart: 0 });
  t.same(identity(path), {
    layout: 'pods',
    namespace: 'shop',
    podName: 'cart-7d9f8-x2x4q',
    podUid: UID,
    containerName: 'cart',
    restartCount: 0,
    containerId: undefined,
    rotated: false,
    compressed: false,
  });
  t.equal(identity(podLogPath({ namespace: 'shop', pod: 'cart', uid: UID, container: 'cart', restart: 17 })).restartCount, 17);
});

t.test('/var/log/pods: rotated siblings, plain and gzipped', async (t) => {
  const rotated = identity(podLogPath({ namespace: 'shop', pod: 'cart', uid: UID, container: 'cart', restart: 2, rotatedAt: '20261123-101500' }));
  t.match(rotated, { restartCount: 2, rotated: true, compressed: false, podUid: UID });
  const gz = identity(podLogPath({ namespace: 'shop', pod: 'cart', uid: UID, container: 'cart', rotatedAt: '20261123-101500', gz: true }));
  t.match(gz, { rotated: true, compressed: true });
});

t.test('a static pod: the directory carries the kubelet config hash (32 hex), not an API uid', async (t) => {
  const hash = configHash('kube-apiserver manifest');
  t.equal(hash.length, 32);
  const id = identity(podLogPath({ namespace: 'kube-system', pod: 'kube-apiserver-node-a.example.com', uid: hash, container: 'kube-apiserver' }));
  t.same([id.podUid, id.podName], [hash, 'kube-apiserver-node-a.example.com']);
});

t.test('pod names with dots; any prefix directory, absolute or relative', async (t) => {
  for (const prefix of ['/var/log/pods', '/host/var/log/pods', '/mnt/node-a/logs', 'pods', '.', '']) {
    const built = podLogPath({ prefix, namespace: 'ns-1', pod: 'web.v2.canary-0', uid: UID, container: 'c', restart: 3 });
    const path = prefix === '' ? built.slice(1) : built; // '' gives the bare relative <ns>_<pod>_<uid>/<container>/3.log
    const id = identity(path);
    t.same([id.namespace, id.podName, id.containerName, id.restartCount], ['ns-1', 'web.v2.canary-0', 'c', 3], path);
  }
});

t.test('/var/log/containers: hyphens in the container name, dots in the pod name', async (t) => {
  const path = containerLogPath({ namespace: 'shop', pod: 'cart-7d9f8-x2x4q', container: 'istio-proxy-v2', containerId: ID });
  t.same(identity(path), {
    layout: 'containers',
    namespace: 'shop',
    podName: 'cart-7d9f8-x2x4q',
    podUid: undefined,
    containerName: 'istio-proxy-v2',
    restartCount: undefined,
    containerId: ID,
    rotated: false,
    compressed: false,
  });
  const dotted = identity(containerLogPath({ prefix: '/host/var/log/containers', namespace: 'a', pod: 'etcd-node.a.example', container: 'etcd', containerId: ID }));
  t.same([dotted.podName, dotted.containerName], ['etcd-node.a.example', 'etcd']);
});

t.test('/var/log/containers names the kubelet cut at 255 bytes keep the names, not the id', async (t) => {
  const pod = `${'p'.repeat(60)}.${'q'.repeat(60)}.${'r'.repeat(60)}`;
  const path = containerLogPath({ namespace: 'team-a', pod, container: 'app', containerId: ID });
  const name = path.slice(path.lastIndexOf('/') + 1);
  t.equal(Buffer.byteLength(name), 255);
  const id = identity(path);
  t.same([id.podName, id.namespace, id.containerName, id.containerId], [pod, 'team-a', 'app', undefined]);
  // A short id in a name that was NOT cut is not the kubelet's doing.
  t.match(detail(podIdentityFromPath('/var/log/containers/p_ns_c-abcdef.log')), 'is not 64 lower-case hex');
});

t.test('what is wrong is said, never thrown', async (t) => {
  const pods = (ns: string, pod: string, uid: string, container: string, file = '0.log') => `/var/log/pods/${ns}_${pod}_${uid}/${container}/${file}`;
  const cases: [string, string][] = [
    [pods('Shop', 'cart', UID, 'cart'), 'namespace "Shop" is not an RFC 1123 label'],
    [pods('shop.eu', 'cart', UID, 'cart'), 'namespace "shop.eu"'],
    [pods('-shop', 'cart', UID, 'cart'), 'namespace "-shop"'],
    [pods('n'.repeat(64), 'cart', UID, 'cart'), 'at most 63 characters'],
    [pods('shop', 'Cart', UID, 'cart'), 'pod name "Cart" is not an RFC 1123 subdomain'],
    [pods('shop', 'cart..x', UID, 'cart'), 'pod name "cart..x"'],
    [pods('shop', 'cart.', UID, 'cart'), 'pod name "cart."'],
    [pods('shop', 'p'.repeat(254), UID, 'cart'), 'at most 253 characters'],
    [pods('shop', 'cart', UID, 'Cart'), 'container name "Cart"'],
    [pods('shop', 'cart', UID, 'cart.v2'), 'container name "cart.v2"'],
    [pods('shop', 'cart', 'not-a-uid', 'cart'), 'pod uid "not-a-uid" is not a pod uid'],
    [pods('shop', 'cart', UID.toUpperCase(), 'cart'), 'pod uid'],
    [pods('shop', 'cart', configHash('x').slice(1), 'cart'), 'pod uid'],
    [pods('shop', 'my_pod', UID, 'cart'), 'pod directory'],
    [`/var/log/pods/shop_cart/cart/0.log`, 'pod directory "shop_cart" is not <namespace>_<pod>_<uid>'],
    [pods('shop', 'cart', UID, 'cart', '0.log.20261123-101500.tmp'), "kubelet's temporary file"],
    [pods('shop', 'cart', UID, 'cart', '0.log.gz'), 'is not <restart>.log'],
    [pods('shop', 'cart', UID, 'cart', '0.log.2026-11-23'), 'is not <restart>.log'],
    [pods('shop', 'cart', UID, 'cart', '0.log.20261123-101500.bz2'), 'unknown suffix ".bz2"'],
    [pods('shop', 'cart', UID, 'cart', '12345678901.log'), 'restart count'],
    ['0.log', 'no <namespace>_<pod>_<uid>/<container>/ directories'],
    ['cart/0.log', 'no <namespace>_<pod>_<uid>/<container>/ directories'],
    [`/shop_cart_${UID}//0.log`, 'container name ""'],
    ['/var/log/syslog', 'matches neither'],
    ['/var/log/pods/', 'ends with "/"'],
    ['', 'the path is empty'],
    [`/var/log/containers/cart_shop_app-${ID.toUpperCase()}.log`, 'is not 64 lower-case hex'],
    [`/var/log/containers/cart_shop_app.log`, 'has no -<container id>'],
    [`/var/log/containers/cart_Shop_app-${ID}.log`, 'namespace "Shop"'],
    [`/var/log/containers/cart_shop_-${ID}.log`, 'container name ""'],
    [`/var/log/containers/a_b_c_d-${ID}.log`, 'matches neither'],
    [`/x/${'a/'.repeat(3000)}0.log`, 'longer than 4096'],
  ];
  for (const [path, expected] of cases) {
    t.match(detail(podIdentityFromPath(path)), expected, path.slice(0, 120));
  }
  t.match(detail(podIdentityFromPath(undefined as unknown as string)), 'expected the path as a string');
});

/** Arbitraries for valid Kubernetes names, built from the rules. */
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789');
const inner = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-');
const label = (max: number) =>
  fc.tuple(alnum, fc.array(inner, { maxLength: Math.max(0, max - 2) }), alnum, fc.boolean()).map(([a, mid, z, single]) => (single ? a : a + mid.join('') + z));
const subdomain = fc.array(label(20), { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.'));
const uid = fc.oneof(fc.string().map(podUid), fc.string().map(configHash));
const prefix = fc.constantFrom('/var/log/pods', '/host/var/log/pods', 'pods', '/a/b/c/d');

t.test('property: any valid names round-trip through both layouts', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(label(63), subdomain, uid, label(63), fc.nat({ max: 10_000 }), fc.option(fc.constant('20261123-101500')), fc.boolean(), prefix,
        (namespace, pod, u, container, restart, rotatedAt, gz, pre) => {
          const pods = podIdentityFromPath(podLogPath({ prefix: pre, namespace, pod, uid: u, container, restart, rotatedAt: rotatedAt ?? undefined, gz: rotatedAt !== null && gz }));
          const containers = podIdentityFromPath(containerLogPath({ namespace, pod, container, containerId: containerId(pod + container) }));
          return (
            pods.ok && pods.identity.namespace === namespace && pods.identity.podName === pod && pods.identity.podUid === u &&
            pods.identity.containerName === container && pods.identity.restartCount === restart &&
            containers.ok && containers.identity.namespace === namespace && containers.identity.podName === pod && containers.identity.containerName === container
          );
        }),
      { numRuns: 1500 },
    ),
  );
});

t.test('property: the parser never throws and always answers one of the two shapes', async (t) => {
  const answers = (m: PathMatch) => (m.ok ? typeof m.identity.namespace === 'string' : m.reason === 'path_not_recognised' && m.detail.length > 0 && m.detail.length < 1200);
  t.doesNotThrow(() => fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => answers(podIdentityFromPath(s))), { numRuns: 3000 }));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => answers(podIdentityFromPath(Buffer.from(bytes).toString('utf8')))),
      { numRuns: 2000 },
    ),
  );
  // Near misses: real shapes with random segments.
  const seg = fc.string({ unit: 'binary', maxLength: 30 });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(seg, seg, seg, seg, seg, (a, b, c, d, e) =>
        answers(podIdentityFromPath(`/var/log/pods/${a}_${b}_${c}/${d}/${e}`)) && answers(podIdentityFromPath(`/var/log/containers/${a}_${b}_${c}-${d}.log`)),
    ),
    { numRuns: 3000 },
    ),
  );
});
