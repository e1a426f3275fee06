/**
 * The pure pieces: timestamp conversion (exact nanoseconds), the derivations other projects apply
 * (workloads, image name/tag, Fluent Bit's hash extraction) and the layout's rename rules.
 */
import fc from 'fast-check';
import t from 'tap';
import { bareContainerId, cronJobOfJob, deploymentOfReplicaSet, fluentBitHash, parseImage } from '../../src/enrich/derive.ts';
import { compileLayout, EnrichConfigError, parsePath } from '../../src/enrich/layout.ts';
import { schemaFields } from '../../src/enrich/schemas.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { msToUnixNanos, TimestampConverter } from '../../src/enrich/time.ts';
import { rfc3339 } from '../builders/lines.ts';

t.test('unixNanos is exact and utc keeps the fraction digits, for any instant and offset', async (t) => {
  const conv = new TimestampConverter();
  t.equal(conv.unixNanos('2026-11-23T10:00:00.123456789Z'), '1795428000123456789');
  t.equal(conv.unixNanos('2026-11-23T11:00:00.5+01:00'), '1795428000500000000');
  t.equal(conv.unixNanos('1970-01-01T00:00:00Z'), '0');
  t.equal(conv.unixNanos('1969-12-31T23:59:59.9Z'), '-100000000');
  t.equal(conv.utc('2026-11-23T05:30:00.000000001-04:30'), '2026-11-23T10:00:00.000000001Z');
  t.equal(conv.utc('2026-11-23T10:00:00Z'), '2026-11-23T10:00:00Z');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4_000_000_000_000 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: -12 * 60, max: 14 * 60 }),
      (ms, nanos, digits, offsetMinutes) => {
        const ts = rfc3339(ms, { nanos, digits, offsetMinutes });
        const wholeSeconds = BigInt(Math.floor(ms / 1000));
        const fraction = digits === 0 ? 0n : BigInt(String(nanos).padStart(9, '0').slice(0, digits).padEnd(9, '0'));
        const expected = (wholeSeconds * 1_000_000_000n + fraction).toString();
        const utc = conv.utc(ts);
        return conv.unixNanos(ts) === expected && utc.endsWith('Z') && conv.unixNanos(utc) === expected;
      },
    ),
  );
  t.equal(msToUnixNanos(1795428000123), '1795428000123000000');
});

t.test('deployment and cronjob names, as k8sattributes derives them', async (t) => {
  t.equal(deploymentOfReplicaSet('cart-7d9f8c6b5d', undefined), 'cart');
  t.equal(deploymentOfReplicaSet('cart-7d9f8', undefined), undefined, 'without the label only a 10-char hash is trusted');
  t.equal(deploymentOfReplicaSet('cart-7d9f8', '7d9f8'), 'cart');
  t.equal(deploymentOfReplicaSet('my-app-v2-5d8f7c9b6a', 'other'), 'my-app-v2', 'a label that does not match falls back to the rule');
  t.equal(deploymentOfReplicaSet('standalone', undefined), undefined);
  t.equal(deploymentOfReplicaSet('-7d9f8c6b5d', undefined), undefined);
  t.equal(cronJobOfJob('nightly-report-29390940'), 'nightly-report');
  t.equal(cronJobOfJob('migrate'), undefined);
  t.equal(cronJobOfJob('db-migrate-v2'), undefined);
});

t.test('image name and tag (docker.ParseImageName cases of k8sattributes)', async (t) => {
  const cases: [string, { name: string; tag: string } | undefined][] = [
    ['alpine', { name: 'alpine', tag: 'latest' }],
    ['alpine:v1.0.0', { name: 'alpine', tag: 'v1.0.0' }],
    ['alpine/alpine:2.0.0', { name: 'alpine/alpine', tag: '2.0.0' }],
    ['example.com:3000/alpine/alpine', { name: 'example.com:3000/alpine/alpine', tag: 'latest' }],
    ['example.com:3000/alpine/alpine:test', { name: 'example.com:3000/alpine/alpine', tag: 'test' }],
    ['alpine:test@sha256:dbc66f8c46d4cf4793527ca0737d73527a2bb830019953c2371b5f45f515f1a8', { name: 'alpine', tag: 'test' }],
    ['example.com/alpine/alpine@sha256:dbc66f8c46d4cf4793527ca0737d73527a2bb830019953c2371b5f45f515f1a8', { name: 'example.com/alpine/alpine', tag: 'latest' }],
    ['', undefined],
    ['aaa:', undefined],
    ['has space:1', undefined],
  ];
  for (const [image, want] of cases) t.same(parseImage(image), want, image);
});

t.test("Fluent Bit's extract_hash and the container id prefix", async (t) => {
  t.equal(fluentBitHash('containerd://4f1e00'), '4f1e00');
  t.equal(fluentBitHash('docker-pullable://nginx@sha256:abc'), 'nginx@sha256:abc');
  t.equal(fluentBitHash('docker.io/library/nginx@sha256:abc'), 'docker.io/library/nginx@sha256:abc');
  t.equal(fluentBitHash('sha256:abc'), 'sha256:abc');
  t.equal(fluentBitHash('no-colon'), undefined);
  t.equal(fluentBitHash('x'), undefined);
  t.equal(fluentBitHash('cri-o://'), undefined);
  t.equal(bareContainerId('cri-o://abc'), 'abc');
  t.equal(bareContainerId('abc'), 'abc');
});

t.test('dotted paths with quoted segments', async (t) => {
  t.same(parsePath('kubernetes.pod_labels'), ['kubernetes', 'pod_labels']);
  t.same(parsePath('resource."k8s.pod.name"'), ['resource', 'k8s.pod.name']);
  t.same(parsePath('"a.b"'), ['a.b']);
  for (const bad of ['', 'a..b', 'a.', '.a', 'a."b', 'a."b"c', 'a"b']) t.equal(parsePath(bad), undefined, JSON.stringify(bad));
});

t.test('renames that cannot work are refused at construction with a clear message', async (t) => {
  const fields = schemaFields('vector', defaultEnricherOptions().input);
  const refuse = (rename: Record<string, string>, pattern: RegExp): void => {
    t.throws(() => compileLayout(fields, rename), pattern);
    try {
      compileLayout(fields, rename);
    } catch (err) {
      t.ok(err instanceof EnrichConfigError && err.code === 'invalid_rename');
    }
  };
  refuse({ 'kubernetes.pod_lables': 'x' }, /no output field has that path; the fields of this schema are: .*kubernetes\.pod_labels/);
  refuse({ 'kubernetes.pod_labels': 'kubernetes.pod_annotations' }, /two output fields end up at "kubernetes.pod_annotations"/);
  refuse({ message: 'file.name' }, /"file" would be both a value and an object/);
  refuse({ 'kubernetes.pod_name': 'source_type.x' }, /"source_type" would be both a value and an object/);
  refuse({ message: 'a..b' }, /not a valid dotted path/);
  refuse({ kube: 'x', 'kubernetes.pod_': 'y' }, /no output field/);
  const layout = compileLayout(fields, { kubernetes: 'k8s', 'kubernetes.pod_name': 'k8s.pod' });
  t.ok(layout.topLevelKeys.has('k8s'));
  t.notOk(layout.topLevelKeys.has('kubernetes'));
  t.throws(() => compileLayout(schemaFields('fluentbit', { ...defaultEnricherOptions().input, file: 'log' }), {}), /two output fields end up at "log"/, 'an input file name clashing with an output key');
});
