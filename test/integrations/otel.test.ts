/**
 * The OpenTelemetry Collector recipe of docs/integrations.md: events in the `otel` schema written by
 * our `file:` sink, and the documented `filelog` receiver operators applied to each written line
 * with the stanza semantics (pkg/stanza/docs/operators: json_parser parses the body into
 * attributes and sets the timestamp without removing its field; move deletes `from` and sets
 * `to`, merging a map into the resource or attributes root; remove deletes a field). The collector
 * itself cannot run here; what is checked is that every line has the shape those operators need
 * and yields the record the page shows.
 *
 * The agent's file source feeds the same enricher in-process; here the raw lines reach it
 * through /v1/forward, with the default input field names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createSink } from '../../src/sink/index.ts';
import { criLine } from '../builders/lines.ts';
import { serviceConfig, yamlRecipe } from './recipes.ts';
import { nsOf } from './shippers.ts';
import { send, startRecipeStack } from './stack.ts';

interface Operator {
  type: string;
  from?: string;
  to?: string;
  field?: string;
  on_error?: string;
  parse_from?: string;
  timestamp?: { parse_from: string; layout_type: string; layout: string };
}

/** A stanza entry: what the filelog receiver turns into one log record. */
interface Entry {
  body: unknown;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  timestamp: bigint | undefined;
  errors: string[];
}

function split(field: string): [root: 'body' | 'attributes' | 'resource', keys: string[]] {
  const [root, ...keys] = field.split('.');
  if (root !== 'body' && root !== 'attributes' && root !== 'resource') throw new Error(`unsupported field ${field}`);
  return [root, keys];
}

function get(entry: Entry, field: string): unknown {
  const [root, keys] = split(field);
  let value: unknown = entry[root];
  for (const key of keys) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

function remove(entry: Entry, field: string): unknown {
  const [root, keys] = split(field);
  if (keys.length !== 1) throw new Error(`this mirror removes one level below the root only: ${field}`);
  const map = entry[root] as Record<string, unknown>;
  const value = map[keys[0]!];
  delete map[keys[0]!];
  return value;
}

function set(entry: Entry, field: string, value: unknown): void {
  const [root, keys] = split(field);
  if (keys.length > 0) throw new Error(`this mirror sets roots only: ${field}`);
  if (root === 'body') entry.body = value;
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.assign(entry[root], value);
  else throw new Error(`cannot set ${root} root to a non-map`);
}

function applyOperators(line: string, operators: readonly Operator[]): Entry {
  const entry: Entry = { body: line, attributes: {}, resource: {}, timestamp: undefined, errors: [] };
  for (const op of operators) {
    const fail = (message: string) => {
      if (op.on_error !== 'send_quiet') entry.errors.push(`${op.type}: ${message}`);
    };
    if (op.type === 'json_parser') {
      Object.assign(entry.attributes, JSON.parse(get(entry, op.parse_from ?? 'body') as string) as Record<string, unknown>);
      if (op.timestamp !== undefined) {
        if (op.timestamp.layout_type !== 'epoch' || op.timestamp.layout !== 'ns') throw new Error('this mirror parses epoch ns only');
        const value = get(entry, op.timestamp.parse_from);
        if (typeof value === 'string' && /^\d+$/.test(value)) entry.timestamp = BigInt(value);
        else fail(`cannot parse ${String(value)} as epoch ns`);
      }
    } else if (op.type === 'move') {
      const value = get(entry, op.from!);
      if (value === undefined) fail(`${op.from} does not exist`);
      else {
        remove(entry, op.from!);
        set(entry, op.to!, value);
      }
    } else if (op.type === 'remove') {
      if (get(entry, op.field!) === undefined) fail(`${op.field} does not exist`);
      else remove(entry, op.field!);
    } else {
      throw new Error(`unsupported operator ${op.type}`);
    }
  }
  return entry;
}

interface CollectorConfig {
  receivers: Record<string, { include: string[]; operators: Operator[] }>;
  service: { pipelines: { logs: { receivers: string[] } } };
}

const collector = yamlRecipe('otel/collector.yaml') as unknown as CollectorConfig;
const receiverName = collector.service.pipelines.logs.receivers[0]!;
const filelog = collector.receivers[receiverName]!;
const config = serviceConfig('otel/kube-log-enricher.yaml');

t.test('the recipe is self-consistent', async (t) => {
  t.equal(config.enrichment.schema, 'otel');
  t.ok(receiverName.startsWith('filelog'), 'the pipeline reads with a filelog receiver');
  t.same(filelog.include, [config.source.sink.slice('file:'.length)], 'which reads the file our sink writes');
});

t.test('otel schema lines through the documented filelog operators', async (t) => {
  const path = join(t.testdir(), 'otel.ndjson');
  const stack = await startRecipeStack(t, { config, sink: createSink(`file:${path}`) });
  const cart = stack.pod('cart');
  const db = stack.pod('db');
  const events = [
    { file: cart.file, line: criLine({ ts: '2026-11-23T10:00:00.123456789Z', message: 'GET /healthz 200' }) },
    { file: db.file, line: criLine({ ts: '2026-11-23T11:00:00.5+01:00', stream: 'stderr', message: 'checkpoint' }) },
    { file: stack.unknownPodFile, line: criLine({ ts: '2026-11-23T10:00:00.7Z', message: 'orphan' }) },
  ];
  const res = await send(`${stack.url}/v1/forward`, { headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  t.equal(res.status, 200, res.text);

  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  t.equal(lines.length, 3, 'one line per event');
  const [first, second, orphan] = lines.map((line) => applyOperators(line, filelog.operators));

  t.same(first!.errors, [], 'no operator fails on a matched event');
  t.equal(first!.timestamp, nsOf('2026-11-23T10:00:00.123456789Z'), 'the record time is the runtime\'s, to the nanosecond');
  t.equal(first!.body, 'GET /healthz 200');
  t.same(first!.attributes, { 'log.file.path': cart.file, 'log.iostream': 'stdout' }, 'nothing of ours is left behind in the attributes');
  t.match(first!.resource, {
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': cart.name,
    'k8s.pod.uid': cart.uid,
    'k8s.node.name': 'node-a',
    'k8s.container.name': 'cart',
    'k8s.deployment.name': 'cart',
    'k8s.replicaset.name': 'cart-7d9f8',
    'container.image.name': 'shop/cart',
    'container.image.tag': '1.4',
    'k8s.pod.label.app': 'cart',
    'k8s.namespace.label.team': 'shop',
  });
  for (const [key, value] of Object.entries(first!.resource)) {
    t.equal(typeof value, 'string', `resource attribute ${key} is a string, as resource attributes from JSON map to`);
  }

  t.same(second!.errors, []);
  t.equal(second!.timestamp, nsOf('2026-11-23T10:00:00.5Z'), 'an offset timestamp lands on the right instant');
  t.match(second, { body: 'checkpoint', attributes: { 'log.iostream': 'stderr' }, resource: { 'k8s.pod.name': db.name, 'k8s.statefulset.name': 'db' } });

  t.same(orphan!.errors, [], 'an unknown pod\'s event passes the operators quietly');
  t.match(orphan, {
    body: 'orphan',
    resource: { 'k8s.pod.name': 'gone-6b7c8-zzzzz', 'k8s.namespace.name': 'shop' },
    attributes: { 'kube_log_enricher.unmatched_reason': 'pod_not_found' },
  });
});
