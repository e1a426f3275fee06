// The pure half of the OTLP receiver: records to raw events, times, attribute values.
import t from 'tap';
import fc from 'fast-check';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { eventsFromLogs, otlpEnricherOptions, toAnyValue, unixNanosToRfc3339 } from '../../src/otlp/logs.ts';

t.test('unixNanosToRfc3339 keeps all nine digits, exactly; unset or malformed times are undefined', async (t) => {
  t.equal(unixNanosToRfc3339('1795428000123456789'), '2026-11-23T10:00:00.123456789Z');
  t.equal(unixNanosToRfc3339('1000000001'), '1970-01-01T00:00:01.000000001Z');
  t.equal(unixNanosToRfc3339('0'), undefined, '0 is unset in OTLP');
  t.equal(unixNanosToRfc3339(undefined), undefined);
  t.equal(unixNanosToRfc3339('12a'), undefined);
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 4_102_444_800_000_000_000n }), (nanos) => {
      const text = unixNanosToRfc3339(nanos.toString())!;
      const [, fraction] = /\.(\d{9})Z$/.exec(text)!;
      return BigInt(Date.parse(text.replace(/\.\d{9}Z$/, 'Z'))) * 1_000_000n + BigInt(fraction!) === nanos;
    }),
  );
});

t.test('eventsFromLogs: the path from the record, else its resource; stream and time from the record', async (t) => {
  const path = (where: string) => [{ key: 'log.file.path', value: { stringValue: where } }];
  const batch = eventsFromLogs({
    resourceLogs: [
      {
        resource: { attributes: path('/from/resource') },
        scopeLogs: [
          {
            logRecords: [
              { body: { stringValue: 'a' } },
              { body: { stringValue: 'b' }, attributes: [...path('/from/record'), { key: 'log.iostream', value: { stringValue: 'stderr' } }], timeUnixNano: '1000000001' },
              { body: { intValue: '3' } },
            ],
          },
        ],
      },
      { scopeLogs: [{ logRecords: [{ body: { stringValue: 'c' } }] }] },
    ],
  });
  t.equal(batch.total, 4);
  t.match(batch.events, [
    { file: '/from/resource', body: 'a' },
    { file: '/from/record', body: 'b', stream: 'stderr', timestamp: '1970-01-01T00:00:01.000000001Z' },
  ]);
  t.same(
    batch.rejected.map((r) => r.where),
    ['resourceLogs[0].scopeLogs[0].logRecords[2]', 'resourceLogs[1].scopeLogs[0].logRecords[0]'],
  );
});

t.test('otlpEnricherOptions: the otel schema; renames only when they were written for it', async (t) => {
  const vector = otlpEnricherOptions(defaultEnricherOptions({ rename: { 'kubernetes.pod_labels': 'kubernetes.labels' }, clusterName: 'eu' }));
  t.equal(vector.schema, 'otel');
  t.same(vector.rename, {});
  t.equal(vector.clusterName, 'eu', 'metadata choices carry over');
  const otel = otlpEnricherOptions(defaultEnricherOptions({ schema: 'otel', rename: { 'resource."k8s.pod.uid"': '' } }));
  t.same(otel.rename, { 'resource."k8s.pod.uid"': '' });
});

t.test('toAnyValue', async (t) => {
  t.same(toAnyValue(['a', 1, 1.5, true, null, { k: 'v' }]), {
    arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, { doubleValue: 1.5 }, { boolValue: true }, {}, { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } }] },
  });
});
