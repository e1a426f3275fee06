/**
 * Every configuration key, its type, default and description: the single source of truth for the
 * loader, the environment/flag names, `check-config` and docs/configuration.md.
 *
 * Conventions the key table (keys.ts) relies on: a leaf is built by one of the helpers below or a
 * plain zod string/boolean/number/enum/array/record, then wrapped by `.prefault(default)` or
 * `.optional()`, then `.describe(...)` last. Sections are strict objects with `.prefault({})` so
 * their own defaults apply when the section is absent.
 */
import { z } from 'zod';
import { DURATION_EXAMPLES, SIZE_EXAMPLES, parseDuration, parseSize } from './units.ts';
import { LISTEN_EXAMPLES, parseListenAddress } from './listen.ts';
import { fieldRuleProblem } from '../enrich/field-rules.ts';
import { isOtlpSink, parseSinkSpec, SINK_EXPECTED } from '../sink/spec.ts';

/** How a leaf is written and checked; drives coercion of env/flag strings, docs and printing. */
export type LeafKind =
  | 'string' | 'boolean' | 'integer' | 'number' | 'enum' | 'stringList' | 'stringMap' | 'objectList'
  | 'duration' | 'size' | 'listen' | 'sink' | 'url';

export interface LeafMeta {
  kind: LeafKind;
  /** Printed as "<redacted>" by check-config, in errors and in logs. */
  secret?: boolean;
}

/** Metadata zod cannot express (units, secrets), attached to the innermost leaf schema. */
export const leafMeta = z.registry<LeafMeta>();

/** A leaf written with a unit ("60s", "64KiB") and used as a number (ms, bytes), with a lower bound. */
function unitValue(parse: typeof parseDuration, kind: 'duration' | 'size', min: number, unit: 'ms' | 'B', examples: string) {
  const noun = kind === 'duration' ? 'duration' : 'size';
  const schema = z.unknown().transform((input, ctx) => {
    const parsed = parse(input);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message, params: { expected: `a ${noun} such as ${examples}` } });
      return z.NEVER;
    }
    if (parsed.value < min) {
      ctx.addIssue({ code: 'custom', message: `bad ${noun}: must be at least ${min}${unit}`, params: { expected: `a ${noun} of at least ${min}${unit}` } });
      return z.NEVER;
    }
    return parsed.value;
  });
  schema.register(leafMeta, { kind });
  // Written as a string, used as a number.
  return schema as unknown as z.ZodType<number, string>;
}

function duration(options: { min?: number } = {}) {
  return unitValue(parseDuration, 'duration', options.min ?? 0, 'ms', DURATION_EXAMPLES);
}

function size(options: { min?: number } = {}) {
  return unitValue(parseSize, 'size', options.min ?? 1, 'B', SIZE_EXAMPLES);
}

function listenAddress(options: { offWhenEmpty?: boolean } = {}) {
  const schema = z.string().superRefine((value, ctx) => {
    if (value === '' && options.offWhenEmpty === true) return;
    const parsed = parseListenAddress(value);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message, params: { expected: `host:port such as ${LISTEN_EXAMPLES}` } });
  });
  schema.register(leafMeta, { kind: 'listen' });
  return schema;
}

export { SINK_EXPECTED };

/** Returns a message when `value` is not a sink address. */
export function checkSink(value: string): string | undefined {
  const parsed = parseSinkSpec(value);
  return parsed.ok ? undefined : `bad sink: ${parsed.reason}`;
}

function sinkAddress() {
  const schema = z.string().superRefine((value, ctx) => {
    const message = checkSink(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, params: { expected: SINK_EXPECTED } });
  });
  schema.register(leafMeta, { kind: 'sink' });
  return schema;
}

function httpUrl() {
  const schema = z.string().superRefine((value, ctx) => {
    if (!/^https?:\/\//.test(value) || !URL.canParse(value)) {
      ctx.addIssue({ code: 'custom', message: 'bad URL', params: { expected: 'an http:// or https:// URL such as "http://127.0.0.1:8080"' } });
    }
  });
  schema.register(leafMeta, { kind: 'url' });
  return schema;
}

function secret() {
  const schema = z.string().min(1);
  schema.register(leafMeta, { kind: 'string', secret: true });
  return schema;
}

const path = () => z.string().min(1);
const positiveInt = () => z.number().int().min(1);

export const backoffSchema = z.strictObject({
  initial: duration({ min: 1 }).prefault('500ms').describe('First delay before retrying a failed list or watch.'),
  max: duration({ min: 1 }).prefault('30s').describe('Longest delay between retries.'),
  factor: z.number().min(1).prefault(2).describe('Multiplier applied to the delay after each failure.'),
  jitter: z.number().min(0).max(1).prefault(0.2).describe('Random fraction (0..1) added to or removed from each delay, so agents do not retry in lockstep.'),
});

/** Where in-cluster service-account tokens are mounted. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const kubeletSchema = z.strictObject({
  url: httpUrl().optional().describe('The kubelet\'s address; this node\'s pods are read from <url>/pods. Unset: https://$NODE_IP:10250, with NODE_IP set from the downward API (status.hostIP). Plain http:// only with insecureSkipTlsVerify.'),
  pollInterval: duration({ min: 100 }).prefault('5s').describe('How often /pods is read: one request per interval whatever the log traffic. A pod created and deleted between two polls is never seen; a new pod\'s first lines can wait up to this long for its metadata.'),
  tokenFile: path().prefault(SERVICE_ACCOUNT_TOKEN_FILE).describe('Bearer token sent to the kubelet, re-read on every poll (it rotates). The service account needs get on nodes/proxy.'),
  caFile: path().optional().describe('CA bundle the kubelet\'s serving certificate is checked against (re-read on every poll). Unset: the system\'s CAs. Kubelets serve self-signed certificates unless serverTLSBootstrap is on.'),
  insecureSkipTlsVerify: z.boolean().prefault(false).describe('Do not check the kubelet\'s certificate (the token is still sent). Mutually exclusive with caFile.'),
});

export const kubernetesSchema = z.strictObject({
  kubeconfig: path().optional().describe('Path to a kubeconfig file (also read from $KUBECONFIG). Unset: the in-cluster service account, then ~/.kube/config.'),
  context: z.string().min(1).optional().describe('kubeconfig context to use. Unset: the current context.'),
  nodeName: z.string().min(1).optional().describe('This node\'s name (also read from $NODE_NAME). When set, only this node\'s pods are watched, with a spec.nodeName field selector.'),
  podLabelSelector: z.string().min(1).optional().describe('Label selector limiting the pods watched, e.g. "app!=noisy".'),
  podFieldSelector: z.string().min(1).optional().describe('Extra field selector for pods, combined with the nodeName selector.'),
  namespaceLabelSelector: z.string().min(1).optional().describe('Label selector limiting the namespaces watched.'),
  deletionDelay: duration().prefault('60s').describe('How long a deleted pod, namespace or node stays usable, so its last log lines are still enriched. A deleted pod that is still needed stays longer: see maxRetention.'),
  maxRetention: duration().prefault('1h').describe('The longest a deleted pod is kept while it is still needed: in agent while its log files have unread data, and for deletionDelay after they were read to their end; in serve while events still ask for it, until deletionDelay passes without one.'),
  watchNodes: z.boolean().prefault(true).describe('Watch nodes (for node labels and annotations).'),
  watchNamespaces: z.boolean().prefault(true).describe('Watch namespaces (for namespace labels and annotations).'),
  watchTimeout: duration({ min: 1 }).prefault('90s').describe('A watch with no event or bookmark for this long is treated as dead and re-opened (from the same resourceVersion, no relist). Watches ask for bookmarks, which the API server sends about every minute, so 90s only catches dead connections.'),
  backoff: backoffSchema.prefault({}).describe('Retry policy for failed lists and watches (and kubelet polls: never retried sooner than kubelet.pollInterval).'),
  podSource: z.enum(['apiserver', 'kubelet']).prefault('apiserver').describe('Where this node\'s pods come from: apiserver (list and watch, spec.nodeName field selector) or kubelet (kubelet.url/pods polled every kubelet.pollInterval; no pods list/watch on the API server, nodes/proxy get instead). Namespaces and nodes come from the API server either way.'),
  kubelet: kubeletSchema.prefault({}).describe('The kubelet read when podSource is kubelet.'),
});

export const serverSchema = z.strictObject({
  listen: listenAddress().prefault('127.0.0.1:8080').describe('Address of the HTTP/WebSocket API and metrics: host:port or [IPv6]:port. Port 0 picks a free port.'),
  grpcListen: listenAddress({ offWhenEmpty: true }).prefault('127.0.0.1:4317').describe('Address of the gRPC API: the OTLP/gRPC logs receiver (opentelemetry.proto.collector.logs.v1.LogsService/Export) and kle.v1.Enricher (Enrich, Ingest; proto/kle/v1/enricher.proto): host:port or [IPv6]:port; empty turns it off. Same auth token (as `authorization` metadata), TLS, message size (maxBodyBytes), maxInflightBytes and sink as the HTTP API.'),
  authToken: secret().optional().describe('Bearer token required on every route but health. Mutually exclusive with authTokenFile.'),
  authTokenFile: path().optional().describe('File holding the bearer token (read at start). Mutually exclusive with authToken.'),
  maxBodyBytes: size().prefault('8MiB').describe('Largest accepted request body.'),
  maxInflightBytes: size().prefault('8MiB').describe('Request bodies being enriched and answered at once, across all requests and /v1/ingest messages (decompressed bytes); a request that would go beyond waits up to maxInflightWait, then is answered 503 with Retry-After; a /v1/ingest message waits, its connection unread, as long as it takes (one larger than this runs when nothing else does). Bounds the memory of bursts: while a batch is enriched, its events take several times its size in heap.'),
  maxInflightWait: duration().prefault('5s').describe('How long a request that does not fit in maxInflightBytes waits, its body unread, for room before it is answered 503 with Retry-After (0: at once). Waiting requests are let in in arrival order. Shippers that ignore Retry-After would otherwise send the same bytes again and again while a burst lasts. At most requestTimeout.'),
  tls: z.strictObject({
    certFile: path().describe('PEM certificate chain.'),
    keyFile: path().describe('PEM private key.'),
  }).optional().describe('Serve HTTPS with this certificate and key. Unset: plain HTTP.'),
  streamBufferEvents: positiveInt().prefault(1000).describe('Events buffered per /v1/stream subscriber before events are dropped for it.'),
  maxStreamSubscribers: positiveInt().prefault(100).describe('/v1/stream subscribers at once; one more is refused with 503 and Retry-After.'),
  streamTimeShare: z.number().gt(0).max(1).prefault(0.1).describe('Share of the service\'s time the /v1/stream fan-out (matching, serialising, sending) may take; beyond it, subscribers get drops (counted, announced) rather than slowing the routes that enrich. 0.1 adds at most ~1.11x to a busy service\'s work; raise it (up to 1) for live tails that must not lose events on a saturated service.'),
  headersTimeout: duration({ min: 1 }).prefault('10s').describe('Time to receive a request\'s line and headers; a slower client gets 408 and its connection is closed. At most requestTimeout.'),
  requestTimeout: duration({ min: 1 }).prefault('30s').describe('Time to receive a whole request, headers and body; a slower client (e.g. a body trickling in) gets 408 and its connection is closed.'),
  sendTimeout: duration({ min: 1 }).prefault('30s').describe('An answer the client stops reading is abandoned, and its connection closed, after this long without progress.'),
  keepAliveTimeout: duration({ min: 1 }).prefault('72s').describe('An idle keep-alive connection is closed after this long. Keep it longer than the idle timeout of the shippers\' connection pools.'),
  websocketPingInterval: duration({ min: 1 }).prefault('30s').describe('WebSocket clients (/v1/ingest, /v1/stream) are pinged this often; one that has not answered the previous ping is cut off.'),
});

/** One `enrichment.fields` rule (enrich/field-rules.ts has its meaning and checks). */
const fieldRuleSchema = z
  .strictObject({
    from: z.enum(['pod', 'namespace', 'node']).describe('Whose labels or annotations.'),
    kind: z.enum(['label', 'annotation']),
    key: z.string().min(1).optional().describe('The exact key.'),
    keyPattern: z.string().min(1).optional().describe('A regular expression matching the whole key.'),
    as: z.string().min(1).optional().describe('The carried key\'s name; $1... are the pattern\'s groups.'),
    action: z.enum(['include', 'exclude']).prefault('include'),
  })
  .superRefine((rule, ctx) => {
    const problem = fieldRuleProblem(rule);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  });

export const enrichmentSchema = z.strictObject({
  schema: z.enum(['vector', 'fluentbit', 'otel']).prefault('vector').describe('Shape of enriched events: vector (Vector kubernetes_logs), fluentbit (Fluent Bit kubernetes filter) or otel (OpenTelemetry resource attributes). Unset with an OTLP source.sink: otel, the only one it takes.'),
  include: z.strictObject({
    podLabels: z.boolean().prefault(true).describe('Add pod labels.'),
    podAnnotations: z.boolean().prefault(true).describe('Add pod annotations.'),
    namespaceLabels: z.boolean().prefault(true).describe('Add namespace labels.'),
    namespaceAnnotations: z.boolean().prefault(false).describe('Add namespace annotations.'),
    nodeLabels: z.boolean().prefault(true).describe('Add node labels.'),
    nodeAnnotations: z.boolean().prefault(false).describe('Add node annotations.'),
  }).prefault({}).describe('Which label and annotation groups enriched events carry.'),
  rename: z.record(z.string().min(1), z.string().min(1)).prefault({}).describe('Output key renames, e.g. {"kubernetes.pod_labels": "kubernetes.labels"}.'),
  fields: z
    .array(fieldRuleSchema)
    .prefault([])
    .describe('Ordered rules choosing and renaming labels and annotations, e.g. [{"from": "pod", "kind": "label", "keyPattern": "app\\.kubernetes\\.io/(.*)", "as": "app_$1"}]. The first rule matching a key decides; with rules, only what they include is carried (the include booleans then do not apply). Empty: the include groups, whole.'),
  dedot: z.string().max(8).optional().describe('Replaces the dots of carried label and annotation keys with this text (e.g. "_", as mmkubernetes and Fluentd users expect). Unset: keys as they are.'),
  parseJson: z.strictObject({
    enabled: z.boolean().prefault(false).describe('Parse every message that is a JSON object into fields (otherwise only those of pods annotated as below).'),
    target: z.string().max(253).prefault('').describe('Where the parsed members go: empty for the event\'s root (never replacing an enrichment field), else under this key. Not for the otel schema, whose body becomes the object.'),
    keepMessage: z.boolean().prefault(true).describe('Keep the message field beside the parsed members.'),
    annotation: z.string().min(1).prefault('logs.kube-log-enricher.io/parser').describe('Pod annotation asking for JSON parsing: "json" (every container) or "json/<container>", comma-separated.'),
  }).prefault({}).describe('Messages that are JSON objects parsed into fields, as Fluent Bit\'s Merge_Log does.'),
  clusterName: z.string().min(1).max(253).optional().describe('The cluster\'s name, added to every event (k8s.cluster.name in otel, kubernetes.cluster_name otherwise).'),
  exclude: z.strictObject({
    label: z.string().min(1).prefault('logs.kube-log-enricher.io/exclude').describe('A pod, or every pod of a namespace, with this label set to "true" is skipped.'),
    annotation: z.string().min(1).prefault('logs.kube-log-enricher.io/exclude').describe('A pod, or every pod of a namespace, with this annotation set to "true" is skipped.'),
    containersAnnotation: z.string().min(1).prefault('logs.kube-log-enricher.io/exclude-containers').describe('Pod annotation listing containers (comma-separated) whose lines are skipped.'),
    mode: z.enum(['opt-out', 'opt-in']).prefault('opt-out').describe('opt-out: every pod but the excluded ones; opt-in: only pods, or pods of namespaces, labelled or annotated with optInKey: "true" (and not excluded).'),
    optInKey: z.string().min(1).prefault('logs.kube-log-enricher.io/include').describe('Label or annotation (value "true") by which a pod or a namespace opts in, in opt-in mode.'),
  }).prefault({}).describe('How pods, namespaces and containers opt out of (or, in opt-in mode, into) enrichment. The label and annotation work on namespaces too (every pod of the namespace).'),
  input: z.strictObject({
    file: z.string().min(1).prefault('file').describe('Field of a raw event holding the log file path.'),
    line: z.string().min(1).prefault('line').describe('Field of a raw event holding the raw CRI/docker line.'),
    message: z.string().min(1).prefault('message').describe('Field of a raw event holding an already decoded message.'),
    timestamp: z.string().min(1).prefault('timestamp').describe('Field of a raw event holding its timestamp.'),
    stream: z.string().min(1).prefault('stream').describe('Field of a raw event holding stdout/stderr.'),
  }).prefault({}).describe('Field names of raw events posted by shippers.'),
  maxMergedLineBytes: size().prefault('1MiB').describe('Cap on a line merged from partial fragments (service side); longer lines are truncated.'),
  partialFlushTimeout: duration().prefault('5s').describe('A partial fragment with no final fragment after this long is emitted as it is.'),
  multiline: z.strictObject({
    annotation: z.string().min(1).prefault('logs.kube-log-enricher.io/multiline').describe('Pod annotation joining the lines of one record (a stack trace) into one event: "java", "python", "go" or a regular expression matching a record\'s first line; "<annotation>-<container>" for one container.'),
    maxBytes: size().prefault('256KiB').describe('Cap on one joined event\'s message: a longer record goes out in parts of at most this, nothing dropped.'),
    flushTimeout: duration().prefault('2s').describe('A record with no new line after this long is emitted as it is (also the longest a stack trace\'s last event waits).'),
  }).prefault({}).describe('Multi-line messages, for pods annotated as below (docs/formats.md "Multi-line messages"). In agent and source applied by the file source (in source with its own maxBytes and flushTimeout, the rule from the service); in serve within a request, and across the batches of one /v1/ingest connection.'),
});

export const sourceSchema = z.strictObject({
  podsDir: path().prefault('/var/log/pods').describe('Root of the kubelet pod log tree.'),
  include: z.array(z.string().min(1)).prefault(['**/*.log']).describe('Globs (relative to podsDir) of files to tail.'),
  exclude: z.array(z.string().min(1)).prefault([]).describe('Globs (relative to podsDir) of files never to tail.'),
  readFrom: z.enum(['beginning', 'end']).prefault('beginning').describe('Where to start in a file that has no checkpoint.'),
  dataDir: path().prefault('/var/lib/kube-log-enricher').describe('Directory for checkpoints.'),
  maxLineBytes: size().prefault('256KiB').describe('Longest raw line read from a file.'),
  maxLineAction: z.enum(['truncate', 'drop']).prefault('truncate').describe('What happens to a line longer than maxLineBytes.'),
  maxMergedLineBytes: size().prefault('1MiB').describe('Cap on a line merged from partial fragments (source side).'),
  partialFlushTimeout: duration().prefault('5s').describe('A partial fragment with no final fragment after this long is emitted as it is.'),
  rotateWait: duration().prefault('5s').describe('How long a rotated file keeps being read after rotation.'),
  rescanInterval: duration({ min: 1 }).prefault('10s').describe('How often podsDir is rescanned for new files, besides file system events.'),
  checkpointInterval: duration({ min: 1 }).prefault('2s').describe('How often the checkpoint snapshot in dataDir is rewritten (and synced to disk). Acknowledged positions are journaled besides, within 250 ms (at once when batchMaxEvents lines are pending), so a crash repeats less than two batches. Also how often parked files are looked at again and, in source, the service asked again which files are excluded (POST /v1/views).'),
  batchMaxEvents: positiveInt().prefault(1000).describe('Most events in one batch to the enricher or sink.'),
  batchMaxWait: duration().prefault('50ms').describe('Least time between two read rounds: files that changed are read together and their lines go out as one batch, so a busy node costs a few reads and one sink write per round, not one per line. The delay it adds to a line is at most this.'),
  maxBufferedBytes: size().prefault('16MiB').describe('Reading pauses while more than this is buffered and unacknowledged (backpressure), across all files.'),
  sink: sinkAddress().prefault('stdout').describe('Where enriched events go: "stdout" or "file:PATH" (NDJSON), an http(s):// URL receiving NDJSON batches, or an OTLP receiver such as an OpenTelemetry Collector: otlp+http://host:4318 (OTLP/HTTP protobuf, gzip; POSTed to /v1/logs unless the URL has a path), otlp+https://, otlp+grpc://host:4317 (plaintext) or otlp+grpcs:// (TLS). An OTLP sink implies enrichment.schema otel.'),
  service: httpUrl().optional().describe('`source` command: URL of the enrichment service raw events are posted to.'),
  transport: z.enum(['http', 'websocket']).prefault('http').describe('`source` command: how raw events reach the service: http (POST /v1/enrich, keep-alive) or websocket (one /v1/ingest connection, acknowledged mode).'),
  serviceToken: secret().optional().describe('`source` command: bearer token for the service. Mutually exclusive with serviceTokenFile.'),
  serviceTokenFile: path().optional().describe('`source` command: file holding the bearer token for the service. Mutually exclusive with serviceToken.'),
  selfPodUid: z.string().min(1).optional().describe('UID of the pod running this process (also read from $POD_UID), whose own logs are never tailed.'),
  selfPodName: z.string().min(1).optional().describe('Name of the pod running this process (also read from $POD_NAME), whose own logs are never tailed.'),
});

export const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).prefault('info').describe('Lowest level of the service\'s own log (JSON on stderr).'),
});

export const configSchema = z.strictObject({
  kubernetes: kubernetesSchema.prefault({}).describe('Connection to the API server and what is watched.'),
  server: serverSchema.prefault({}).describe('The HTTP/WebSocket API.'),
  enrichment: enrichmentSchema.prefault({}).describe('What enriched events look like.'),
  source: sourceSchema.prefault({}).describe('The bundled file source (source, agent and demo commands).'),
  logging: loggingSchema.prefault({}).describe('The service\'s own log.'),
});

/** Pairs of keys of one kind (durations or sizes) whose first may not exceed the second. */
export const ORDERED: readonly (readonly [string, string])[] = [
  ['kubernetes.backoff.initial', 'kubernetes.backoff.max'],
  ['kubernetes.deletionDelay', 'kubernetes.maxRetention'],
  ['server.headersTimeout', 'server.requestTimeout'],
  // The request waits unread, and its body must still be in within requestTimeout.
  ['server.maxInflightWait', 'server.requestTimeout'],
];

/** A rule across keys of a parsed configuration: a problem with one key (its dotted id), or undefined. */
export type ConfigRule = (c: Config) => { key: string; message: string; expected: string } | undefined;

const APISERVER_ONLY = 'not applied to pods read from the kubelet (its /pods has no selectors)';

/** Rules zod cannot express per key, checked once the configuration parsed. */
export const CONFIG_RULES: readonly ConfigRule[] = [
  (c) => (c.kubernetes.podSource === 'kubelet' && c.kubernetes.podLabelSelector !== undefined ? { key: 'kubernetes.podLabelSelector', message: APISERVER_ONLY, expected: 'unset with kubernetes.podSource: kubelet' } : undefined),
  (c) => (c.kubernetes.podSource === 'kubelet' && c.kubernetes.podFieldSelector !== undefined ? { key: 'kubernetes.podFieldSelector', message: APISERVER_ONLY, expected: 'unset with kubernetes.podSource: kubelet' } : undefined),
  (c) => {
    const k = c.kubernetes.kubelet;
    if (k.url === undefined || !k.url.startsWith('http:') || k.insecureSkipTlsVerify) return undefined;
    return { key: 'kubernetes.kubelet.url', message: 'plain http:// sends the token unprotected', expected: 'an https:// URL, or http:// with kubernetes.kubelet.insecureSkipTlsVerify: true' };
  },
  (c) => {
    const k = c.kubernetes.kubelet;
    if (k.caFile === undefined || !k.insecureSkipTlsVerify) return undefined;
    return { key: 'kubernetes.kubelet.caFile', message: 'cannot be set together with kubernetes.kubelet.insecureSkipTlsVerify: true', expected: 'only one of kubernetes.kubelet.caFile and kubernetes.kubelet.insecureSkipTlsVerify: true' };
  },
  (c) =>
    isOtlpSink(c.source.sink) && c.enrichment.schema !== 'otel'
      ? { key: 'enrichment.schema', message: 'an OTLP source.sink sends OpenTelemetry log records, which only the otel schema gives', expected: 'otel, or unset (then implied), with an otlp+ source.sink' }
      : undefined,
];

/**
 * Defaults that follow another key, applied where the key is not written (its schema default
 * applies otherwise). An OTLP sink sends OpenTelemetry log records, so it implies the otel schema;
 * another schema written beside it is refused (CONFIG_RULES).
 */
export const IMPLIED_DEFAULTS: readonly { key: string; value: (c: Config) => unknown }[] = [
  { key: 'enrichment.schema', value: (c) => (isOtlpSink(c.source.sink) ? 'otel' : undefined) },
];

/** Pairs of keys that cannot both be set. */
export const MUTUALLY_EXCLUSIVE: readonly (readonly [string, string])[] = [
  ['server.authToken', 'server.authTokenFile'],
  ['source.serviceToken', 'source.serviceTokenFile'],
];

export type Config = z.output<typeof configSchema>;
/** What a config file may hold: every key optional, durations and sizes as strings. */
export type ConfigInput = z.input<typeof configSchema>;
export type KubernetesConfig = Config['kubernetes'];
export type BackoffConfig = KubernetesConfig['backoff'];
export type ServerConfig = Config['server'];
export type EnrichmentConfig = Config['enrichment'];
export type SourceConfig = Config['source'];
export type LoggingConfig = Config['logging'];
export type LogLevel = LoggingConfig['level'];
export type EnrichmentSchemaName = EnrichmentConfig['schema'];
