// kle.v1.Enricher (proto/kle/v1/enricher.proto) as `serve` runs it: a client built by
// @grpc/proto-loader from the .proto alone, as a user would build one, against the service
// started by the runtime with a simulated API server and a sink the test controls.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { encodeLogsRequest, PROTO_DIR, retryDelayOf } from '../../src/otlp/proto.ts';
import { startService, type Service } from '../../src/runtime/service.ts';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { SinkUnavailableError, type NdjsonChunk, type Sink } from '../../src/sink/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { criFragments, criLine, dockerLine, podLogPath } from '../builders/lines.ts';
import { testRuntime } from '../builders/runtime.ts';
import { waitFor } from '../builders/wait.ts';
import { JAVA_TRACE } from '../builders/traces.ts';
import { recipe } from '../integrations/recipes.ts';
import { kubeConfigFor, metricValue, startSim } from '../kube/helpers.ts';

const TOKEN = 'sesame';

interface RawEvent {
  file?: string;
  line?: string;
  message?: string;
  stream?: string;
  timestamp?: string;
}
interface EventError {
  index: number;
  field: string;
  message: string;
}
interface EnrichResponse {
  ndjson: Buffer;
  events: number;
  errors: EventError[];
  excluded: number;
  merged: number;
}
interface IngestAck {
  sequence: string;
  ndjson: Buffer;
  events: number;
  errors: EventError[];
  excluded: number;
  merged: number;
}

type EnricherClient = grpc.Client & {
  Enrich(request: { events: RawEvent[] }, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, response?: EnrichResponse) => void): grpc.ClientUnaryCall;
  Ingest(metadata: grpc.Metadata): grpc.ClientDuplexStream<{ sequence: number; events: RawEvent[]; returnEvents?: boolean }, IngestAck>;
};

const definition = protoLoader.loadSync(join(PROTO_DIR, 'kle/v1/enricher.proto'), { longs: String, defaults: true, arrays: true, oneofs: true });
const EnricherClientConstructor = (grpc.loadPackageDefinition(definition) as unknown as { kle: { v1: { Enricher: grpc.ServiceClientConstructor } } }).kle.v1.Enricher;

/** A sink that keeps what it is given (as text), can be switched off, and can hold its writes. */
class TestSink implements Sink {
  down = false;
  text = '';
  /** While set, writes wait for it. */
  gate: Promise<void> | undefined;
  get available(): boolean {
    return !this.down;
  }
  async write(chunk: NdjsonChunk): Promise<void> {
    if (this.gate !== undefined) await this.gate;
    if (this.down) throw new SinkUnavailableError('the downstream is away', 7);
    this.text += Buffer.from(chunk.bytes).toString('utf8');
  }
  async close(): Promise<void> {}
  lines(): Record<string, unknown>[] {
    return this.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

interface Stack {
  service: Service;
  sink: TestSink;
  file: string;
  /** A container whose pod has the multiline annotation `java`. */
  tracesFile: string;
  client(token?: string): EnricherClient;
  clock: { now: number };
}

async function startStack(t: Tap, server: Record<string, unknown> = {}, options: { noSink?: boolean; enrichment?: Record<string, unknown> } = {}): Promise<Stack> {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  const pod = sim.create('pods', podFor({ name: 'web-0', namespace: 'shop', labels: { app: 'web' }, containers: ['web'], seed: 5 }));
  // Its stack traces are joined (see the multi-line test).
  const traces = sim.create('pods', podFor({ name: 'traces-0', namespace: 'shop', containers: ['java'], annotations: { 'logs.kube-log-enricher.io/multiline': 'java' }, seed: 6 }));
  const sink = new TestSink();
  const clock = { now: Date.now() };
  const service = await startService(
    testConfig({ server: { listen: '127.0.0.1:0', grpcListen: '127.0.0.1:0', authToken: TOKEN, ...server }, enrichment: options.enrichment ?? {} }),
    testRuntime(),
    { kubeConfig: kubeConfigFor(t, sim), sink: options.noSink === true ? null : sink, now: () => clock.now },
  );
  t.teardown(() => service.stop());
  await service.reflectors.ready();
  const clients: grpc.Client[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  return {
    service,
    sink,
    clock,
    file: podLogPath({ namespace: 'shop', pod: 'web-0', uid: pod.metadata.uid!, container: 'web' }),
    tracesFile: podLogPath({ namespace: 'shop', pod: 'traces-0', uid: traces.metadata.uid!, container: 'java' }),
    client() {
      const client = new EnricherClientConstructor(service.grpcAddress!, grpc.credentials.createInsecure()) as unknown as EnricherClient;
      clients.push(client);
      return client;
    },
  };
}
type Tap = Parameters<typeof startSim>[0] & { testdir(): string };

/** `authorization` metadata with `token`; null: none. */
function auth(token: string | null = TOKEN): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== null) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function enrich(client: EnricherClient, events: RawEvent[], token?: string | null): Promise<{ response?: EnrichResponse; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client.Enrich({ events }, auth(token), (error, response) => resolve(error ? { error } : { response: response! }));
  });
}

/** A raw-bytes call, for what a generated client would never send. */
function rawEnrich(stack: Stack, bytes: Buffer): Promise<grpc.ServiceError | undefined> {
  const client = stack.client();
  return new Promise((resolve) => {
    client.makeUnaryRequest('/kle.v1.Enricher/Enrich', (b: Buffer) => b, (b: Buffer) => b, bytes, auth(), (error) => resolve(error ?? undefined));
  });
}

/** An Ingest stream whose acknowledgements and end are collected. */
function ingest(client: EnricherClient, token?: string | null) {
  const call = client.Ingest(auth(token));
  const acks: IngestAck[] = [];
  call.on('data', (ack: IngestAck) => acks.push(ack));
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  // The error event repeats the status; the test reads the status.
  call.on('error', () => {});
  return { call, acks, ended };
}

async function postEnrich(stack: Stack, events: RawEvent[]): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${stack.service.url}/v1/enrich`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' },
    body: events.map((e) => JSON.stringify(e)).join('\n'),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

t.test('Enrich answers what POST /v1/enrich answers for the same events', async (t) => {
  const stack = await startStack(t);
  const { file } = stack;
  const [first, second] = criFragments('a line split in two', { size: 10 });
  const events: RawEvent[] = [
    { file, line: criLine({ message: 'hello over grpc', stream: 'stderr' }) },
    { file, line: dockerLine({ message: 'from docker' }) },
    { file, message: 'already decoded', stream: 'stdout', timestamp: '2026-11-23T10:00:01Z' },
    { file, line: first! },
    { file, line: second! },
    { file, line: 'not a runtime line' },
    { file: '/var/log/pods/shop_gone-0_00000000-0000-0000-0000-000000000000/web/0.log', line: criLine({ message: 'no such pod' }) },
  ];
  const { response, error } = await enrich(stack.client(), events);
  t.equal(error, undefined);
  const http = await postEnrich(stack, events);
  t.equal(response!.ndjson.toString('utf8'), http.text, 'the same NDJSON, byte for byte');
  t.equal(response!.events, 5);
  t.equal(response!.merged, Number(http.headers.get('x-enrich-merged')));
  t.equal(response!.merged, 1, 'the partial line merged');
  t.equal(response!.errors.length, Number(http.headers.get('x-enrich-errors')));
  t.match(response!.errors, [{ index: 5, field: 'line' }], 'the line that is no runtime line, named');
  const first3 = http.text.split('\n').slice(0, 3).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(first3[0], { message: 'hello over grpc', stream: 'stderr', kubernetes: { pod_name: 'web-0', pod_namespace: 'shop' } });
});

t.test('the grpc-js client of docs/integrations.md prints what POST /v1/enrich answers', async (t) => {
  const stack = await startStack(t);
  const script = join(t.testdir(), 'enrich-client.mjs');
  writeFileSync(script, recipe('grpc/enrich-client.mjs'));
  const events = [{ file: stack.file, line: criLine({ message: 'from the recipe' }) }, { file: stack.file, line: 'no runtime line' }];
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, KLE_GRPC: stack.service.grpcAddress, KLE_TOKEN: TOKEN, KLE_PROTO: join(PROTO_DIR, 'kle/v1/enricher.proto') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(events.map((e) => JSON.stringify(e)).join('\n'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, stderr);
  t.equal(stdout, (await postEnrich(stack, events)).text);
  t.match(stderr, /^event 1: line: /m, 'the unusable event reported');
});

t.test('Ingest: each batch acknowledged after the sink took it, partial lines merged across batches', async (t) => {
  const stack = await startStack(t);
  const { file, sink } = stack;
  const fragments = criFragments('one long line across two batches', { size: 12 });
  const stream = ingest(stack.client());
  stream.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'first' }) }, { file, line: fragments[0]! }] });
  stream.call.write({ sequence: 2, events: fragments.slice(1).map((line) => ({ file, line })) });
  stream.call.write({ sequence: 3, events: [{ file, line: criLine({ message: 'third' }) }, { file, line: criLine({ message: 'left open', partial: true }) }] });
  await waitFor(() => stream.acks.length === 3 || undefined, 'three acknowledgements');
  t.same(
    stream.acks.map((a) => [a.sequence, a.events, a.merged]),
    [
      ['1', 1, 0],
      ['2', 1, 2],
      ['3', 1, 0],
    ],
    'in order, with the events each delivered',
  );
  t.same(
    sink.lines().map((l) => l.message),
    ['first', 'one long line across two batches', 'third'],
    'acknowledged events are at the sink',
  );
  stream.call.end();
  const status = await stream.ended;
  t.equal(status.code, grpc.status.OK, 'a half-close ends the stream with OK');
  t.same(sink.lines().at(-1)?.message, 'left open', 'after the partial line still open was delivered');
});

t.test('a missing or wrong token: UNAUTHENTICATED, for both methods', async (t) => {
  const stack = await startStack(t);
  const events = [{ file: stack.file, line: criLine({ message: 'x' }) }];
  for (const token of [null, 'wrong']) {
    const client = stack.client();
    t.equal((await enrich(client, events, token)).error?.code, grpc.status.UNAUTHENTICATED, `Enrich, token ${String(token)}`);
    const stream = ingest(client, token);
    stream.call.write({ sequence: 1, events });
    t.equal((await stream.ended).code, grpc.status.UNAUTHENTICATED, `Ingest, token ${String(token)}`);
  }
  t.equal(stack.sink.text, '', 'nothing reached the sink');
});

t.test('bad input gets INVALID_ARGUMENT or RESOURCE_EXHAUSTED, naming the fault, and the server carries on', async (t) => {
  const stack = await startStack(t, { maxBodyBytes: '4KiB' });
  const { file } = stack;
  const garbage = await rawEnrich(stack, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
  t.equal(garbage?.code, grpc.status.INVALID_ARGUMENT, 'garbage protobuf');
  t.match(garbage?.details, /not a protobuf kle\.v1\.EnrichRequest/);

  const client = stack.client();
  const noFile = await enrich(client, [{ file, line: criLine() }, { line: criLine() }]);
  t.equal(noFile.error?.code, grpc.status.INVALID_ARGUMENT, 'an event without file');
  t.match(noFile.error?.details, /events\[1\]\.file: required/);
  const noContent = await enrich(client, [{ file }]);
  t.equal(noContent.error?.code, grpc.status.INVALID_ARGUMENT, 'an event with neither line nor message');
  t.match(noContent.error?.details, /events\[0\]: set `line`/);

  const oversize = await enrich(client, [{ file, line: criLine({ message: 'x'.repeat(5000) }) }]);
  t.equal(oversize.error?.code, grpc.status.RESOURCE_EXHAUSTED, 'a message over server.maxBodyBytes');

  const stream = ingest(client);
  stream.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'fine' }) }] });
  stream.call.write({ sequence: 2, events: [{ file, line: criLine() }, { line: criLine() }] });
  const status = await stream.ended;
  t.equal(status.code, grpc.status.INVALID_ARGUMENT, 'Ingest ends at the bad batch');
  t.match(status.details, /events\[1\]\.file/);
  t.same(stream.acks.map((a) => a.sequence), ['1'], 'the batch before it was acknowledged');

  const big = ingest(client);
  big.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'x'.repeat(5000) }) }] });
  t.equal((await big.ended).code, grpc.status.RESOURCE_EXHAUSTED, 'an Ingest message over server.maxBodyBytes');

  const after = await enrich(client, [{ file, line: criLine({ message: 'still serving' }) }]);
  t.equal(after.response?.events, 1, 'the server carries on');
});

t.test('sink down: Ingest ends with UNAVAILABLE and a RetryInfo; acknowledged batches are delivered, and a new stream goes on once it is back', async (t) => {
  const stack = await startStack(t);
  const { file, sink } = stack;
  const stream = ingest(stack.client());
  stream.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'before' }) }] });
  await waitFor(() => stream.acks.length === 1 || undefined, 'the first acknowledgement');
  sink.down = true;
  stream.call.write({ sequence: 2, events: [{ file, line: criLine({ message: 'refused' }) }] });
  const status = await stream.ended;
  t.equal(status.code, grpc.status.UNAVAILABLE);
  const details = status.metadata.get('grpc-status-details-bin')[0] as Buffer;
  t.equal(retryDelayOf(details), 7, 'the sink\'s retry delay, as a RetryInfo');
  t.same(sink.lines().map((l) => l.message), ['before']);

  sink.down = false;
  stack.clock.now += 8000;
  const again = ingest(stack.client());
  again.call.write({ sequence: 2, events: [{ file, line: criLine({ message: 'refused' }) }] });
  again.call.end();
  t.equal((await again.ended).code, grpc.status.OK);
  t.same(again.acks.map((a) => a.sequence), ['2']);
  t.same(sink.lines().map((l) => l.message), ['before', 'refused'], 'resent on a new stream once the sink is back');
});

t.test('gRPC calls take their share of server.maxInflightBytes, with the HTTP routes; a client that cancels gives it back', async (t) => {
  const stack = await startStack(t, { maxInflightBytes: '1KiB', maxInflightWait: '0s' });
  const { file, sink, service } = stack;
  let open!: () => void;
  sink.gate = new Promise((resolve) => (open = resolve));
  const stream = ingest(stack.client());
  stream.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'x'.repeat(900) }) }] });
  await waitFor(async () => (await metricValue(service.metrics, 'inflight_bytes', {})) > 900 || undefined, 'the batch holding its share while the sink writes');

  const refused = await enrich(stack.client(), [{ file, line: criLine({ message: 'y'.repeat(300) }) }]);
  t.equal(refused.error?.code, grpc.status.UNAVAILABLE, 'Enrich: no room');
  t.equal(retryDelayOf(refused.error!.metadata.get('grpc-status-details-bin')[0] as Buffer), 1);
  const http = await postEnrich(stack, [{ file, line: criLine({ message: 'y'.repeat(300) }) }]);
  t.equal(http.status, 503, 'POST /v1/enrich: no room either, the budget is one');
  const logs = encodeLogsRequest({
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'z'.repeat(300) }, attributes: [{ key: 'log.file.path', value: { stringValue: file } }] }] }] }],
  });
  const exported = await new Promise<grpc.ServiceError | null>((resolve) => {
    stack.client().makeUnaryRequest('/opentelemetry.proto.collector.logs.v1.LogsService/Export', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(logs), auth(), (err) => resolve(err));
  });
  t.equal(exported?.code, grpc.status.UNAVAILABLE, 'OTLP Export over gRPC: no room either');
  t.match(http.text, /server\.maxInflightBytes/);

  stream.call.cancel();
  t.equal((await stream.ended).code, grpc.status.CANCELLED);
  open();
  sink.gate = undefined;
  await waitFor(async () => (await metricValue(service.metrics, 'inflight_bytes', {})) === 0 || undefined, 'the share given back');
  const after = await enrich(stack.client(), [{ file, line: criLine({ message: 'y'.repeat(300) }) }]);
  t.equal(after.response?.events, 1, 'the server carries on');
  t.equal(stream.acks.length, 0, 'the cancelled stream got no acknowledgement');
});

t.test('Ingest with return_events, as /v1/ingest answers: the enriched events in each acknowledgement, no sink needed', async (t) => {
  const stack = await startStack(t, {}, { noSink: true });
  const { file } = stack;
  const fragments = criFragments('one long line across two batches', { size: 12 });
  const stream = ingest(stack.client());
  stream.call.write({ sequence: 1, returnEvents: true, events: [{ file, line: criLine({ message: 'first' }) }, { file, line: fragments[0]! }] });
  stream.call.write({ sequence: 2, returnEvents: true, events: fragments.slice(1).map((line) => ({ file, line })) });
  stream.call.write({ sequence: 3, returnEvents: true, events: [{ file, line: criLine({ message: 'left open', partial: true }) }] });
  await waitFor(() => stream.acks.length === 3 || undefined, 'three acknowledgements');
  const messages = (ack: IngestAck | undefined) => (ack === undefined ? [] : ack.ndjson.toString('utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { message: string; kubernetes: { pod_name: string } })));
  t.same(stream.acks.map((a) => [a.sequence, a.events, a.merged]), [['1', 1, 0], ['2', 1, 2], ['3', 0, 0]], 'in order, with their counts');
  t.same(stream.acks.map((a) => messages(a).map((e) => e.message)), [['first'], ['one long line across two batches'], []], 'each batch\'s events, partial lines merged across batches');
  t.equal(messages(stream.acks[0])[0]?.kubernetes.pod_name, 'web-0', 'enriched');
  const expected = await postEnrich(stack, [{ file, line: criLine({ message: 'first' }) }]);
  t.equal(Object.keys(JSON.parse(expected.text.trim()) as object).join(), Object.keys(messages(stream.acks[0])[0]!).join(), 'the same fields as POST /v1/enrich');
  stream.call.end();
  t.equal((await stream.ended).code, grpc.status.OK, 'a half-close ends the stream with OK');
  t.same(stream.acks.slice(3).map((a) => [a.sequence, messages(a).map((e) => e.message)]), [['0', ['left open']]], 'after a last acknowledgement (sequence 0) with the partial line left open');
});

t.test('Ingest joins multi-line records across batches: a held one goes out with a later acknowledgement once overdue, or at the half-close', async (t) => {
  const stack = await startStack(t, {}, { noSink: true, enrichment: { multiline: { flushTimeout: '1s' } } });
  const file = stack.tracesFile;
  let ms = Date.UTC(2026, 11, 6, 10, 0, 0);
  const line = (message: string) => ({ file, line: criLine({ ts: new Date(++ms).toISOString(), stream: 'stderr', message }) });
  const stream = ingest(stack.client());
  const messages = (acks: readonly IngestAck[]) => acks.flatMap((a) => a.ndjson.toString('utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { message: string }).message));
  // A trace split over two batches, then nothing: only time can say it is over.
  stream.call.write({ sequence: 1, returnEvents: true, events: JAVA_TRACE.slice(0, 3).map(line) });
  stream.call.write({ sequence: 2, returnEvents: true, events: JAVA_TRACE.slice(3).map(line) });
  await waitFor(() => stream.acks.length === 2 || undefined, 'two acknowledgements');
  t.same(messages(stream.acks.slice(0, 1)), [], 'nothing of the trace in the first acknowledgement: its record was held');
  // No answer comes unasked: empty batches collect the record once flushTimeout passed.
  let sequence = 2;
  await waitFor(() => {
    if (messages(stream.acks).length > 0) return true;
    if (stream.acks.length === sequence) stream.call.write({ sequence: ++sequence, returnEvents: true, events: [] });
    return undefined;
  }, 'the held trace, collected by an empty batch');
  t.same(messages(stream.acks), [JAVA_TRACE.join('\n')], 'the whole trace, one event, though it came in two batches');
  // Another trace, held when the client half-closes: it comes in the last acknowledgement (sequence 0).
  const before = stream.acks.length;
  stream.call.write({ sequence: ++sequence, returnEvents: true, events: JAVA_TRACE.slice(0, 2).map(line) });
  stream.call.end();
  t.equal((await stream.ended).code, grpc.status.OK);
  const last = stream.acks.at(-1);
  t.equal(last?.sequence, '0', 'a last acknowledgement after the half-close');
  t.same(messages(stream.acks.slice(before)), [JAVA_TRACE.slice(0, 2).join('\n')], 'the held record, flushed at the half-close');
});

t.test('Ingest without a sink: a batch for the sink ends the stream UNIMPLEMENTED; Enrich works all the same', async (t) => {
  const stack = await startStack(t, {}, { noSink: true });
  const client = stack.client();
  const stream = ingest(client);
  stream.call.write({ sequence: 1, events: [{ file: stack.file, line: criLine() }] });
  const status = await stream.ended;
  t.equal(status.code, grpc.status.UNIMPLEMENTED);
  t.match(status.details, /no sink is configured.*return_events/);
  t.equal((await enrich(client, [{ file: stack.file, line: criLine() }])).response?.events, 1);
});

t.test('shutdown ends open Ingest streams with UNAVAILABLE, after delivering their open partial lines', async (t) => {
  const stack = await startStack(t);
  const { file, sink } = stack;
  const stream = ingest(stack.client());
  stream.call.write({ sequence: 1, events: [{ file, line: criLine({ message: 'open at shutdown', partial: true }) }] });
  await waitFor(() => stream.acks.length === 1 || undefined, 'the acknowledgement');
  await stack.service.stop();
  const status = await stream.ended;
  t.equal(status.code, grpc.status.UNAVAILABLE);
  t.match(status.details, /shutting down/);
  t.same(sink.lines().map((l) => l.message), ['open at shutdown'], 'the open partial line was delivered first');
});
