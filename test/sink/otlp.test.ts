/**
 * The OTLP sink against receivers built from the official definitions (test/builders/otlp-receivers.ts):
 * OTLP/HTTP and OTLP/gRPC, what arrives, and the bad cases (receiver down, retry hints, rejected
 * records, permanent refusals).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/log/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { SinkRejectedError, SinkUnavailableError, createSink, ndjsonOfTexts, parseSinkSpec, type Sink } from '../../src/sink/index.ts';
import { closedPort } from '../builders/ports.ts';
import { recordsOf, startOtlpGrpcReceiver, startOtlpHttpReceiver, type OtlpTestReceiver } from '../builders/otlp-receivers.ts';

/** Tiny delivery backoff: a wait the test sees is the receiver's hint, not the policy. */
const QUICK = { attempts: 3, backoff: { initialMs: 1, maxMs: 2_000, factor: 1, jitter: 0 } };

function otelLine(pod: string, container: string, body: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    resource: { 'k8s.namespace.name': 'shop', 'k8s.pod.name': pod, 'k8s.container.name': container, 'k8s.pod.label.app': pod },
    time_unix_nano: '1700000000123456789',
    observed_time_unix_nano: '1700000000200000000',
    body,
    attributes: { 'log.file.path': `/var/log/pods/shop_${pod}_u/${container}/0.log`, 'log.iostream': 'stdout' },
    ...extra,
  });
}

/** pino's number for warn. */
const WARN = 40;

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

async function metric(metrics: ReturnType<typeof createMetrics>, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return m?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}


t.test('parseSinkSpec: OTLP endpoints', async (t) => {
  const url = (s: string) => {
    const r = parseSinkSpec(s);
    return r.ok && r.spec.kind === 'otlp' ? [r.spec.transport, r.spec.tls, r.spec.url.href] : r;
  };
  t.same(url('otlp+http://collector:4318'), ['http', false, 'http://collector:4318/v1/logs'], '/v1/logs when no path');
  t.same(url('otlp+http://collector'), ['http', false, 'http://collector:4318/v1/logs'], 'OTLP/HTTP\'s port by default');
  t.same(url('otlp+https://otlp.example/custom/v1/logs'), ['http', true, 'https://otlp.example:4318/custom/v1/logs'], 'a path of its own is kept');
  t.same(url('otlp+https://otlp.example:443'), ['http', true, 'https://otlp.example/v1/logs'], 'an explicit port is kept, even the scheme\'s default');
  t.same(url('otlp+grpc://collector'), ['grpc', false, 'http://collector:4317/'], 'OTLP/gRPC\'s port by default');
  t.same(url('otlp+grpcs://[::1]:9443/'), ['grpc', true, 'https://[::1]:9443/']);
  const path = parseSinkSpec('otlp+grpc://collector:4317/v1/logs');
  t.match(path, { ok: false, reason: /OTLP\/gRPC endpoint is host:port only, got the path "\/v1\/logs"/ });
  t.match(parseSinkSpec('otlp+http://'), { ok: false, reason: 'the URL has no host' });
  t.match(parseSinkSpec('otlp+kafka://x'), { ok: false, reason: 'unknown kind of sink' });
});

for (const [transport, start] of [['http', startOtlpHttpReceiver], ['grpc', startOtlpGrpcReceiver]] as const) {
  const receiverUp = async (t: Test): Promise<OtlpTestReceiver> => {
    const receiver = await start();
    t.teardown(() => receiver.close());
    return receiver;
  };
  const sinkTo = (t: Test, spec: string, deps: Parameters<typeof createSink>[1] = {}): Sink => {
    const sink = createSink(spec, { ...deps, otlp: { ...QUICK, ...deps.otlp } });
    t.teardown(() => sink.close());
    return sink;
  };

  t.test(`otlp+${transport}: one request per batch, one resource per pod container, acknowledged once accepted`, async (t) => {
    const receiver = await receiverUp(t);
    const sink = sinkTo(t, receiver.sink);
    await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'one'), otelLine('db', 'postgres', 'two'), otelLine('cart', 'cart', { level: 'info', n: 3 }), otelLine('cart', 'proxy', 'four')]));
    t.equal(receiver.accepted().length, 1, 'one ExportLogsServiceRequest');
    const request = receiver.accepted()[0]!;
    t.equal(request.resourceLogs?.length, 3, 'cart/cart, db/postgres, cart/proxy');
    const records = recordsOf([request]);
    t.same(records.map((r) => [r.resource['k8s.pod.name'], r.resource['k8s.container.name'], r.body]), [
      ['cart', 'cart', 'one'],
      ['cart', 'cart', { level: 'info', n: 3 }],
      ['db', 'postgres', 'two'],
      ['cart', 'proxy', 'four'],
    ]);
    t.same(records[0], {
      resource: { 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'cart', 'k8s.container.name': 'cart', 'k8s.pod.label.app': 'cart' },
      attributes: { 'log.file.path': '/var/log/pods/shop_cart_u/cart/0.log', 'log.iostream': 'stdout' },
      body: 'one',
      timeUnixNano: '1700000000123456789',
    });
    if (transport === 'http') t.match(receiver.arrivals[0]!.headers, { 'content-encoding': 'gzip', 'content-type': 'application/x-protobuf' }, 'protobuf, gzip');
    await sink.write(ndjsonOfTexts([]));
    t.equal(receiver.arrivals.length, 1, 'an empty batch sends nothing');
  });

  t.test(`otlp+${transport}: receiver down: the write rejects after its attempts, the sink says unavailable`, async (t) => {
    const metrics = createMetrics();
    const sink = sinkTo(t, `otlp+${transport}://127.0.0.1:${await closedPort()}`, { metrics });
    await t.rejects(sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'lost?')])), SinkUnavailableError);
    t.notOk((await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'x')])).catch((e: unknown) => e)) instanceof SinkRejectedError, 'not a permanent refusal');
    t.equal(sink.available, false);
    t.equal(await metric(metrics, 'kube_log_enricher_sink_errors_total'), 6, 'three failed attempts per write');
  });

  const retryable = transport === 'http' ? [503, 429] : [14 /* UNAVAILABLE */, 8 /* RESOURCE_EXHAUSTED, retried with a RetryInfo */];
  t.test(`otlp+${transport}: ${retryable.join(' and ')} with a retry hint are retried no sooner than the hint`, async (t) => {
    const receiver = await receiverUp(t);
    const sink = sinkTo(t, receiver.sink);
    receiver.script({ kind: 'fail', status: retryable[0]!, retryAfterSeconds: 1, message: 'busy' }, { kind: 'fail', status: retryable[1]!, retryAfterSeconds: 1, message: 'slow down' });
    await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'patient')]));
    t.equal(receiver.arrivals.length, 3, 'two refusals, then accepted');
    t.same(recordsOf(receiver.accepted()).map((r) => r.body), ['patient']);
    for (const i of [1, 2]) t.ok(receiver.arrivals[i]!.at - receiver.arrivals[i - 1]!.at >= 950, `attempt ${i + 1} waited for the 1 s hint`);
  });

  t.test(`otlp+${transport}: the hint also holds the sink unavailable once the attempts are spent`, async (t) => {
    const receiver = await receiverUp(t);
    const sink = sinkTo(t, receiver.sink, { otlp: { attempts: 1 } });
    receiver.script({ kind: 'fail', status: retryable[0]!, retryAfterSeconds: 30 });
    await t.rejects(sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'later')])), { name: 'SinkUnavailableError', retryAfterSeconds: 30 });
    t.equal(sink.available, false);
  });

  const permanent = transport === 'http' ? 400 : 3; /* INVALID_ARGUMENT */
  t.test(`otlp+${transport}: a permanent refusal (${permanent}) is a SinkRejectedError at once, with the receiver's message`, async (t) => {
    const receiver = await receiverUp(t);
    const sink = sinkTo(t, receiver.sink);
    receiver.script({ kind: 'fail', status: permanent, message: 'log record too large' });
    const err = await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'refused')])).catch((e: unknown) => e);
    t.type(err, SinkRejectedError);
    t.match(err, { status: permanent, message: /rejected the batch: .*log record too large/ });
    t.equal(receiver.arrivals.length, 1, 'not retried');
    if (transport === 'grpc') {
      receiver.script({ kind: 'fail', status: 8, message: 'quota' });
      t.match(await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'x')])).catch((e: unknown) => e), { name: 'SinkRejectedError', status: 8 }, 'RESOURCE_EXHAUSTED without a RetryInfo is not retried');
    }
  });

  t.test(`otlp+${transport}: partial_success: the rejected records are dropped, counted, logged; the batch is acknowledged`, async (t) => {
    const receiver = await receiverUp(t);
    const metrics = createMetrics();
    const { lines, logger } = capturingLogger();
    const sink = sinkTo(t, receiver.sink, { metrics, logger });
    receiver.script({ kind: 'accept', rejected: 2, message: '2 log records rejected: too old' });
    await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'a'), otelLine('cart', 'cart', 'b'), otelLine('cart', 'cart', 'c')]));
    t.equal(receiver.arrivals.length, 1, 'not sent again');
    t.equal(await metric(metrics, 'kube_log_enricher_sink_rejected_records_total'), 2);
    const warnings = lines.filter((l) => l.level === WARN);
    t.equal(warnings.length, 1, 'logged once for the batch');
    t.match(warnings[0], { rejected: 2, of: 3, message: '2 log records rejected: too old' });
    await sink.write(ndjsonOfTexts([otelLine('cart', 'cart', 'd')]));
    t.equal(lines.filter((l) => l.level === WARN).length, 1, 'a fully accepted batch logs nothing');
  });

  t.test(`otlp+${transport}: events of another schema cannot be sent: a SinkRejectedError, nothing sent`, async (t) => {
    const receiver = await receiverUp(t);
    const sink = sinkTo(t, receiver.sink);
    const vector = JSON.stringify({ message: 'hi', kubernetes: { pod_name: 'cart' } });
    await t.rejects(sink.write(ndjsonOfTexts([vector])), { name: 'SinkRejectedError', message: /not an event of the otel schema.*enrichment\.schema: otel/ });
    t.equal(receiver.arrivals.length, 0);
  });
}

t.test('the receivers here are built from proto/ alone: no OpenTelemetry SDK or exporter is needed', async (t) => {
  for (const file of ['test/builders/otlp-receivers.ts', 'test/sink/otlp.test.ts', 'src/sink/otlp.ts', 'src/sink/otlp-http.ts', 'src/sink/otlp-grpc.ts', 'src/otlp/records.ts']) {
    const imports = [...readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    t.notOk(imports.some((i) => i?.startsWith('@opentelemetry/')), `${file} imports no @opentelemetry package`);
  }
  t.match(readFileSync(new URL('../builders/otlp-receivers.ts', import.meta.url), 'utf8'), /logs_service\.proto/, 'the receiver loads the vendored LogsService definition');
});
