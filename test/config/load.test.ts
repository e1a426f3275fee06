import t, { type Test } from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig, formatConfigError, loadConfig, parseConfig } from '../../src/config/index.ts';
import type { LoadConfigOptions } from '../../src/config/index.ts';

type Env = Record<string, string | undefined>;

/** Loads with a config file written into a fresh test dir (when `file` is given). */
function load(t: Test, options: { file?: { name: string; text: string }; argv?: string[]; env?: Env; extra?: Partial<LoadConfigOptions> }) {
  const dir = t.testdir(options.file === undefined ? {} : { [options.file.name]: options.file.text });
  const argv = [...(options.file === undefined ? [] : ['--config', options.file.name]), ...(options.argv ?? [])];
  return loadConfig({ argv, env: options.env ?? {}, cwd: dir, ...options.extra });
}

/** The lines a user sees for an invalid configuration. */
function errorLines(result: ReturnType<typeof loadConfig>): string[] {
  if (result.ok) return ['<valid>'];
  return result.errors.map(formatConfigError);
}

const yaml = (text: string) => ({ name: 'config.yaml', text });

t.test('defaults', async (t) => {
  const config = defaultConfig();
  t.equal(config.server.listen, '127.0.0.1:8080');
  t.equal(config.kubernetes.deletionDelay, 60_000);
  t.same(config.kubernetes.backoff, { initial: 500, max: 30_000, factor: 2, jitter: 0.2 });
  t.equal(config.server.maxBodyBytes, 8 * 1024 * 1024);
  t.equal(config.enrichment.schema, 'vector');
  t.same(config.enrichment.include, { podLabels: true, podAnnotations: true, namespaceLabels: true, namespaceAnnotations: false, nodeLabels: true, nodeAnnotations: false });
  t.same(config.source.include, ['**/*.log']);
  t.equal(config.source.maxLineBytes, 256 * 1024);
  t.equal(config.source.batchMaxWait, 50);
  t.equal(config.source.sink, 'stdout');
  t.equal(config.logging.level, 'info');
  t.equal(config.server.authToken, undefined);
  t.equal(config.server.tls, undefined);
  const loaded = loadConfig({ argv: [], env: {}, cwd: '/' });
  t.same(loaded, { ok: true, config });
});

t.test('precedence: flags > environment > file > defaults', async (t) => {
  const file = yaml('server:\n  listen: 10.0.0.1:1111\nkubernetes:\n  nodeName: from-file\n  deletionDelay: 10s\n');
  const env = { KLE_SERVER_LISTEN: '10.0.0.2:2222', KLE_KUBERNETES_DELETION_DELAY: '20s' };
  const all = load(t, { file, env, argv: ['--listen', '10.0.0.3:3333'] });
  t.ok(all.ok);
  if (!all.ok) return;
  t.equal(all.config.server.listen, '10.0.0.3:3333', 'flag wins');
  t.equal(all.config.kubernetes.deletionDelay, 20_000, 'env beats file');
  t.equal(all.config.kubernetes.nodeName, 'from-file', 'file beats default');
  t.equal(all.config.kubernetes.watchTimeout, 90_000, 'default');

  const noFlag = load(t, { file, env });
  t.equal(noFlag.ok && noFlag.config.server.listen, '10.0.0.2:2222');
  const fileOnly = load(t, { file });
  t.equal(fileOnly.ok && fileOnly.config.server.listen, '10.0.0.1:1111');

  const setBeatsEnv = load(t, { env, argv: ['--set', 'kubernetes.deletionDelay=30s'] });
  t.equal(setBeatsEnv.ok && setBeatsEnv.config.kubernetes.deletionDelay, 30_000, '--set beats env');
  // Among flags the last one given wins.
  const lastFlag = load(t, { argv: ['--set', 'server.listen=127.0.0.1:1', '--listen', '127.0.0.1:2'] });
  t.equal(lastFlag.ok && lastFlag.config.server.listen, '127.0.0.1:2');
});

t.test('conventional variables are weaker than KLE_*', async (t) => {
  const env = { NODE_NAME: 'node-a', KUBECONFIG: '/kube/a', POD_UID: 'uid-1', POD_NAME: 'agent-x' };
  const plain = load(t, { env });
  t.ok(plain.ok);
  if (plain.ok) {
    t.equal(plain.config.kubernetes.nodeName, 'node-a');
    t.equal(plain.config.kubernetes.kubeconfig, '/kube/a');
    t.equal(plain.config.source.selfPodUid, 'uid-1');
    t.equal(plain.config.source.selfPodName, 'agent-x');
  }
  const both = load(t, { env: { ...env, KLE_KUBERNETES_NODE_NAME: 'node-b', KLE_KUBERNETES_KUBECONFIG: '/kube/b' } });
  t.equal(both.ok && both.config.kubernetes.nodeName, 'node-b');
  t.equal(both.ok && both.config.kubernetes.kubeconfig, '/kube/b');
  const flag = load(t, { env, argv: ['--node-name', 'node-c'] });
  t.equal(flag.ok && flag.config.kubernetes.nodeName, 'node-c');
});

t.test('environment strings are converted by key type', async (t) => {
  const result = load(t, {
    env: {
      KLE_ENRICHMENT_INCLUDE_POD_LABELS: 'false',
      KLE_SERVER_STREAM_BUFFER_EVENTS: '50',
      KLE_KUBERNETES_BACKOFF_JITTER: '0.5',
      KLE_SOURCE_INCLUDE: '**/*.{log,gz}, app/**/*.log',
      KLE_SOURCE_EXCLUDE: '',
      KLE_ENRICHMENT_RENAME: 'kubernetes.pod_labels=kubernetes.labels,kubernetes.pod_name=pod',
      KLE_SOURCE_MAX_LINE_BYTES: '64KiB',
      KLE_SERVICE_HOST: '10.96.0.10',
      KLE_PORT_8080_TCP: 'tcp://10.96.0.10:8080',
      HOME: '/root',
    },
  });
  t.ok(result.ok, errorLines(result).join('\n'));
  if (!result.ok) return;
  t.equal(result.config.enrichment.include.podLabels, false);
  t.equal(result.config.server.streamBufferEvents, 50);
  t.equal(result.config.kubernetes.backoff.jitter, 0.5);
  t.same(result.config.source.include, ['**/*.{log,gz}', 'app/**/*.log'], 'braces keep their commas');
  t.same(result.config.source.exclude, [], 'empty variable counts as unset');
  t.same(result.config.enrichment.rename, { 'kubernetes.pod_labels': 'kubernetes.labels', 'kubernetes.pod_name': 'pod' });
  t.equal(result.config.source.maxLineBytes, 65_536);
});

t.test('--set reaches every kind of key', async (t) => {
  const result = load(t, {
    file: yaml('enrichment:\n  rename:\n    a: b\n'),
    argv: [
      '--set', 'enrichment.rename.kubernetes.pod_labels=kubernetes.labels',
      '--set=source.include=a/*.log,b/*.log',
      '--set', 'kubernetes.watchNodes=false',
      '--set', 'server.tls.certFile=/tls/crt',
      '--set', 'server.tls.keyFile=/tls/key',
      '--set', 'source.podsDir=/x=y',
    ],
  });
  t.ok(result.ok, errorLines(result).join('\n'));
  if (!result.ok) return;
  t.same(result.config.enrichment.rename, { a: 'b', 'kubernetes.pod_labels': 'kubernetes.labels' }, 'map entries merge with the file');
  t.same(result.config.source.include, ['a/*.log', 'b/*.log']);
  t.equal(result.config.kubernetes.watchNodes, false);
  t.same(result.config.server.tls, { certFile: '/tls/crt', keyFile: '/tls/key' });
  t.equal(result.config.source.podsDir, '/x=y', 'only the first = separates key and value');
});

t.test('JSON files, YAML nulls and empty files', async (t) => {
  const json = load(t, { file: { name: 'c.json', text: '{"server": {"listen": "0.0.0.0:9000"}, "source": {"include": ["a.log"]}}' } });
  t.equal(json.ok && json.config.server.listen, '0.0.0.0:9000');
  t.same(json.ok && json.config.source.include, ['a.log']);
  const nulls = load(t, { file: yaml('server:\n  authToken: null\n  listen:\nkubernetes: ~\n') });
  t.ok(nulls.ok, errorLines(nulls).join('\n'));
  t.equal(nulls.ok && nulls.config.server.listen, '127.0.0.1:8080');
  const empty = load(t, { file: yaml('') });
  t.same(empty, { ok: true, config: defaultConfig() });
  // Any other extension is read as YAML, which also covers JSON.
  const other = load(t, { file: { name: 'config', text: '{"logging": {"level": "debug"}}' } });
  t.equal(other.ok && other.config.logging.level, 'debug');
});

t.test('error: unknown key', async (t) => {
  const result = load(t, { file: yaml('server:\n  lisen: 0.0.0.0:80\n  frobnicate: 1\nlisten: 0.0.0.0:80\nsource:\n  deletionDelay: 5s\n') });
  t.same(errorLines(result), [
    'server.lisen: unknown key, did you mean "server.listen"? (got "0.0.0.0:80", expected a key of server: listen, grpcListen, authToken, authTokenFile, maxBodyBytes, maxInflightBytes, maxInflightWait, tls, streamBufferEvents, maxStreamSubscribers, streamTimeShare, headersTimeout, requestTimeout, sendTimeout, keepAliveTimeout, websocketPingInterval) [from file config.yaml:2:3]',
    'server.frobnicate: unknown key (got 1, expected a key of server: listen, grpcListen, authToken, authTokenFile, maxBodyBytes, maxInflightBytes, maxInflightWait, tls, streamBufferEvents, maxStreamSubscribers, streamTimeShare, headersTimeout, requestTimeout, sendTimeout, keepAliveTimeout, websocketPingInterval) [from file config.yaml:3:3]',
    'source.deletionDelay: unknown key, did you mean "kubernetes.deletionDelay"? (got "5s", expected a key of source: podsDir, include, exclude, readFrom, dataDir, maxLineBytes, maxLineAction, maxMergedLineBytes, partialFlushTimeout, rotateWait, rescanInterval, checkpointInterval, batchMaxEvents, batchMaxWait, maxBufferedBytes, sink, service, transport, serviceToken, serviceTokenFile, selfPodUid, selfPodName) [from file config.yaml:6:3]',
    'listen: unknown key, did you mean "server.listen"? (got "0.0.0.0:80", expected a section: kubernetes, server, enrichment, source, logging) [from file config.yaml:4:1]',
  ]);
  t.equal(!result.ok && result.errors[0]?.code, 'unknown_key');
});

t.test('error: unknown key from --set, environment and flags', async (t) => {
  const result = load(t, {
    argv: ['--set', 'server.maxBodyByte=1MiB', '--set', 'server.authTokn=hunter2', '--lisen', '0.0.0.0:80', '--frobnicate'],
    env: { KLE_SERVER_LISTN: '0.0.0.0:80', KLE_NOPE: 'x' },
  });
  t.same(errorLines(result), [
    'unknown environment variable (expected a variable listed in docs/configuration.md) [from env KLE_NOPE]',
    'unknown environment variable, did you mean KLE_SERVER_LISTEN? (expected a variable listed in docs/configuration.md) [from env KLE_SERVER_LISTN]',
    'server.maxBodyByte: unknown key, did you mean "server.maxBodyBytes"? (got "1MiB", expected a key listed in docs/configuration.md) [from flag --set server.maxBodyByte]',
    'server.authTokn: unknown key, did you mean "server.authToken"? (got "<redacted>", expected a key listed in docs/configuration.md) [from flag --set server.authTokn]',
    'unknown option, did you mean --listen? (expected an option listed by --help) [from flag --lisen]',
    'unknown option (expected an option listed by --help) [from flag --frobnicate]',
  ]);
  t.notMatch(JSON.stringify(result), /hunter2/, 'a mistyped secret key never echoes its value');
});

t.test('error: option not accepted by the command, missing values, stray arguments', async (t) => {
  const narrow = load(t, { argv: ['--pods-dir', '/x'], extra: { flags: ['config', 'listen'] } });
  t.same(errorLines(narrow), ['option not accepted by this command (expected an option listed by --help) [from flag --pods-dir]']);
  const missing = load(t, { argv: ['--deletion-delay'] });
  t.same(errorLines(missing), ['missing value (expected a duration such as "500ms", "60s", "5m", "1h") [from flag --deletion-delay]']);
  const swallowed = load(t, { argv: ['--listen', '--schema', 'otel'] });
  t.same(errorLines(swallowed), ['missing value (expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from flag --listen]']);
  const stray = load(t, { argv: ['serve'] });
  t.same(errorLines(stray), ['unexpected argument (got "serve", expected no arguments, only options) [from command line]']);
  const badSet = load(t, { argv: ['--set', 'server.listen', '--set', 'server.tls=x'] });
  t.same(errorLines(badSet), [
    '--set needs KEY=VALUE (got "server.listen", expected KEY=VALUE such as source.rotateWait=10s) [from flag --set]',
    'server.tls: is a section, not a key (got "x", expected one of its keys, such as server.tls.certFile) [from flag --set server.tls]',
  ]);
  const short = load(t, { argv: ['-x'] });
  t.same(errorLines(short), ['unknown option (expected an option listed by --help) [from flag -x]']);
});

t.test('error: wrong type', async (t) => {
  const result = load(t, {
    file: yaml('server:\n  listen: 8080\n  streamBufferEvents: many\n  authToken: 12345\nkubernetes:\n  watchNodes: "yes"\nsource:\n  include: "*.log"\n  exclude: [ok, 3]\nenrichment: [1]\n'),
    env: { KLE_KUBERNETES_WATCH_NAMESPACES: 'yes' },
    argv: ['--set', 'server.streamBufferEvents=1.5'],
  });
  t.same(errorLines(result), [
    'kubernetes.watchNodes: wrong type (got "yes", expected true or false) [from file config.yaml:6:3]',
    'kubernetes.watchNamespaces: wrong type (got "yes", expected true or false) [from env KLE_KUBERNETES_WATCH_NAMESPACES]',
    'server.listen: wrong type (got 8080, expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from file config.yaml:2:3]',
    'server.authToken: wrong type (got "<redacted>", expected a non-empty string) [from file config.yaml:4:3]',
    'server.streamBufferEvents: wrong type (got 1.5, expected an integer >= 1) [from flag --set server.streamBufferEvents]',
    'enrichment: wrong type (got [1], expected a mapping of keys of enrichment) [from file config.yaml:10:1]',
    'source.include: wrong type (got "*.log", expected a list of strings) [from file config.yaml:8:3]',
    'source.exclude[1]: wrong type (got 3, expected a string) [from file config.yaml:9:17]',
  ]);
  t.notMatch(JSON.stringify(result), /12345/, 'the secret is never echoed');
});

t.test('error: bad duration', async (t) => {
  const result = load(t, {
    file: yaml('kubernetes:\n  deletionDelay: 60\n  watchTimeout: 0s\n'),
    env: { KLE_SOURCE_ROTATE_WAIT: '5d', KLE_SOURCE_BATCH_MAX_WAIT: 'soon' },
    argv: ['--set', 'kubernetes.backoff.initial=1m'],
  });
  t.same(errorLines(result), [
    'kubernetes.backoff.initial: bad duration: longer than kubernetes.backoff.max (got "1m", expected a duration no longer than kubernetes.backoff.max, which is 30s) [from flag --set kubernetes.backoff.initial]',
    'kubernetes.deletionDelay: bad duration: 60 has no unit, write "60s" or "60ms" (got 60, expected a duration such as "500ms", "60s", "5m", "1h") [from file config.yaml:2:3]',
    'kubernetes.watchTimeout: bad duration: must be at least 1ms (got "0s", expected a duration of at least 1ms) [from file config.yaml:3:3]',
    'source.rotateWait: bad duration: unknown unit "d", use ms, s, m or h (got "5d", expected a duration such as "500ms", "60s", "5m", "1h") [from env KLE_SOURCE_ROTATE_WAIT]',
    'source.batchMaxWait: bad duration: not a duration (got "soon", expected a duration such as "500ms", "60s", "5m", "1h") [from env KLE_SOURCE_BATCH_MAX_WAIT]',
  ]);
  t.same(!result.ok && result.errors.map((e) => e.code), ['bad_duration', 'bad_duration', 'bad_duration', 'bad_duration', 'bad_duration']);
});

t.test('error: keys out of order (a timeout beyond the one that bounds it)', async (t) => {
  const result = load(t, {
    file: yaml('server:\n  headersTimeout: 1m\n'),
    env: { KLE_SERVER_REQUEST_TIMEOUT: '20s' },
  });
  t.same(errorLines(result), [
    'server.headersTimeout: bad duration: longer than server.requestTimeout (got "1m", expected a duration no longer than server.requestTimeout, which is 20s) [from file config.yaml:2:3]',
  ]);
  t.same(!result.ok && result.errors.map((e) => e.code), ['bad_duration']);
  const raised = load(t, { file: yaml('server:\n  headersTimeout: 1m\n  requestTimeout: 2m\n') });
  t.ok(raised.ok, 'raised together, they are fine');
});

t.test('server.streamTimeShare: a share of time in (0, 1]', async (t) => {
  for (const value of ['0', '1.5', 'soon', '-0.1']) {
    const lines = errorLines(load(t, { argv: ['--set', `server.streamTimeShare=${value}`] }));
    t.equal(lines.length, 1, `${value} is refused: ${lines.join(' | ')}`);
    t.match(lines[0], /^server\.streamTimeShare: .*\[from flag --set server\.streamTimeShare\]$/, `${value}: the error names the key and where it came from`);
  }
  const all = load(t, { argv: ['--set', 'server.streamTimeShare=1'] });
  t.equal(all.ok && all.config.server.streamTimeShare, 1, '1: the fan-out may take all the time it needs');
  const fallback = load(t, {});
  t.equal(fallback.ok && fallback.config.server.streamTimeShare, 0.1, 'default 0.1');
});

t.test('error: server.maxInflightWait not a duration, or longer than server.requestTimeout', async (t) => {
  const bad = load(t, { file: yaml('server:\n  maxInflightWait: soon\n') });
  t.same(errorLines(bad), [
    'server.maxInflightWait: bad duration: not a duration (got "soon", expected a duration such as "500ms", "60s", "5m", "1h") [from file config.yaml:2:3]',
  ]);
  const tooLong = load(t, { argv: ['--set', 'server.maxInflightWait=45s'] });
  t.same(errorLines(tooLong), [
    'server.maxInflightWait: bad duration: longer than server.requestTimeout (got "45s", expected a duration no longer than server.requestTimeout, which is 30s) [from flag --set server.maxInflightWait]',
  ]);
  const none = load(t, { env: { KLE_SERVER_MAX_INFLIGHT_WAIT: '0s' } });
  t.equal(none.ok && none.config.server.maxInflightWait, 0, '0: refused at once, the old behaviour');
});

t.test('error: bad size', async (t) => {
  const result = load(t, {
    file: yaml('server:\n  maxBodyBytes: 8mb\nsource:\n  maxLineBytes: 4096\n  maxBufferedBytes: 0B\n'),
    argv: ['--set', 'enrichment.maxMergedLineBytes=big'],
  });
  t.same(errorLines(result), [
    'server.maxBodyBytes: bad size: unknown unit "mb", use B, KB, MB, GB, KiB, MiB or GiB (got "8mb", expected a size such as "512B", "64KiB", "1MiB", "10MB") [from file config.yaml:2:3]',
    'enrichment.maxMergedLineBytes: bad size: not a size (got "big", expected a size such as "512B", "64KiB", "1MiB", "10MB") [from flag --set enrichment.maxMergedLineBytes]',
    'source.maxLineBytes: bad size: 4096 has no unit, write "4096B" or "4096KiB" (got 4096, expected a size such as "512B", "64KiB", "1MiB", "10MB") [from file config.yaml:4:3]',
    'source.maxBufferedBytes: bad size: must be at least 1B (got "0B", expected a size of at least 1B) [from file config.yaml:5:3]',
  ]);
  t.same(!result.ok && result.errors.map((e) => e.code), ['bad_size', 'bad_size', 'bad_size', 'bad_size']);
});

t.test('error: bad enum', async (t) => {
  const result = load(t, { file: yaml('enrichment:\n  schema: fluent-bit\nsource:\n  readFrom: middle\n'), argv: ['--log-level', 'INFO'] });
  t.same(errorLines(result), [
    'enrichment.schema: bad value, did you mean "fluentbit"? (got "fluent-bit", expected one of "vector", "fluentbit", "otel") [from file config.yaml:2:3]',
    'source.readFrom: bad value (got "middle", expected one of "beginning", "end") [from file config.yaml:4:3]',
    'logging.level: bad value, did you mean "info"? (got "INFO", expected one of "fatal", "error", "warn", "info", "debug", "trace") [from flag --log-level]',
  ]);
  t.same(!result.ok && result.errors.map((e) => e.code), ['bad_enum', 'bad_enum', 'bad_enum']);
});

t.test('error: bad listen address, sink and service URL', async (t) => {
  const result = load(t, { file: yaml('server:\n  listen: ":8080"\nsource:\n  sink: "file:"\n  service: ftp://x\n') });
  t.same(errorLines(result), [
    'server.listen: bad listen address: missing host, write "0.0.0.0:PORT" to listen on every interface (got ":8080", expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from file config.yaml:2:3]',
    'source.sink: bad sink: "file:" needs a path, as in "file:/var/log/enriched.ndjson" (got "file:", expected "stdout", "file:PATH", an http:// or https:// URL, or an OTLP endpoint (otlp+http://, otlp+https://, otlp+grpc://, otlp+grpcs://)) [from file config.yaml:4:3]',
    'source.service: bad URL (got "ftp://x", expected an http:// or https:// URL such as "http://127.0.0.1:8080") [from file config.yaml:5:3]',
  ]);
  t.equal(!result.ok && result.errors[0]?.code, 'bad_listen');
  const flag = load(t, { argv: ['--listen', '[::1]:99999', '--sink', 'kafka://x'] });
  t.same(errorLines(flag), [
    'server.listen: bad listen address: port 99999 is out of range 0-65535 (got "[::1]:99999", expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from flag --listen]',
    'source.sink: bad sink: unknown kind of sink (got "kafka://x", expected "stdout", "file:PATH", an http:// or https:// URL, or an OTLP endpoint (otlp+http://, otlp+https://, otlp+grpc://, otlp+grpcs://)) [from flag --sink]',
  ]);
  const good = load(t, { argv: ['--listen', '[::1]:0', '--sink', 'https://collector:8443/ingest', '--service', 'http://127.0.0.1:8080'] });
  t.ok(good.ok, errorLines(good).join('\n'));
});

t.test('error: mutually exclusive keys', async (t) => {
  const result = load(t, {
    file: yaml('server:\n  authTokenFile: /run/secrets/token\n'),
    env: { KLE_SERVER_AUTH_TOKEN: 's3cr3t-value' },
    argv: ['--set', 'source.serviceToken=other-s3cret', '--set', 'source.serviceTokenFile=/t'],
  });
  t.same(errorLines(result), [
    'server.authToken: cannot be set together with server.authTokenFile (got "<redacted>", expected only one of server.authToken and server.authTokenFile) [from env KLE_SERVER_AUTH_TOKEN]',
    'source.serviceToken: cannot be set together with source.serviceTokenFile (got "<redacted>", expected only one of source.serviceToken and source.serviceTokenFile) [from flag --set source.serviceToken]',
  ]);
  t.notMatch(JSON.stringify(result), /s3cr3t/);
  t.equal(!result.ok && result.errors[0]?.code, 'mutually_exclusive');
});

t.test('error: missing key, empty string, out of range', async (t) => {
  const result = load(t, { file: yaml('server:\n  tls:\n    certFile: /tls/crt\nsource:\n  podsDir: ""\nkubernetes:\n  backoff:\n    jitter: 1.5\n    factor: 0.5\n') });
  t.same(errorLines(result), [
    'kubernetes.backoff.factor: out of range (got 0.5, expected a number >= 1) [from file config.yaml:9:5]',
    'kubernetes.backoff.jitter: out of range (got 1.5, expected a number from 0 to 1) [from file config.yaml:8:5]',
    'server.tls.keyFile: required key is missing (expected a non-empty string) [from file config.yaml:2:3]',
    'source.podsDir: must not be empty (got "", expected a non-empty string) [from file config.yaml:5:3]',
  ]);
});

t.test('error: a key missing next to one set by the environment is blamed on that variable', async (t) => {
  const result = load(t, { env: { KLE_SERVER_TLS_CERT_FILE: '/tls/crt' } });
  t.same(errorLines(result), ['server.tls.keyFile: required key is missing (expected a non-empty string) [from env KLE_SERVER_TLS_CERT_FILE]']);
});

t.test('error: missing file', async (t) => {
  const result = load(t, { argv: ['--config', 'nowhere.yaml'] });
  t.same(errorLines(result), ['config file not found (got "nowhere.yaml", expected a path to a readable YAML or JSON file) [from flag --config]']);
  t.equal(!result.ok && result.errors[0]?.code, 'file_not_found');
});

t.test('error: unreadable file', async (t) => {
  const dir = t.testdir({ 'conf.d': {} });
  const directory = loadConfig({ argv: ['--config', 'conf.d'], env: {}, cwd: dir });
  t.same(errorLines(directory), ['config file is a directory (got "conf.d", expected a path to a readable YAML or JSON file) [from flag --config]']);
  t.equal(!directory.ok && directory.errors[0]?.code, 'file_unreadable');
  // Root reads anything, so permission bits prove nothing there.
  const isRoot = process.getuid?.() === 0;
  t.test('permission denied', { skip: isRoot ? 'running as root' : false }, async (t) => {
    const locked = t.testdir({ 'locked.yaml': 'server: {}\n' });
    chmodSync(join(locked, 'locked.yaml'), 0o000);
    t.teardown(() => chmodSync(join(locked, 'locked.yaml'), 0o600));
    const result = loadConfig({ argv: ['--config', 'locked.yaml'], env: {}, cwd: locked });
    t.same(errorLines(result), ['config file not readable: permission denied (got "locked.yaml", expected a path to a readable YAML or JSON file) [from flag --config]']);
  });
  // The same wording for errors the injected reader raises.
  const injected = loadConfig({
    argv: ['--config', 'c.yaml'], env: {}, cwd: '/',
    readFile: () => { throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }); },
  });
  t.same(errorLines(injected), ['config file not readable: permission denied (got "c.yaml", expected a path to a readable YAML or JSON file) [from flag --config]']);
});

t.test('error: invalid YAML, with line and column', async (t) => {
  const result = load(t, { file: yaml('server:\n  listen: 127.0.0.1:8080\n    maxBodyBytes: 1MiB\n') });
  t.same(errorLines(result), ['invalid YAML: Nested mappings are not allowed in compact mappings (expected valid YAML) [from file config.yaml:2:11]']);
  const tabs = load(t, { file: yaml('source:\n\tpodsDir: /x\n') });
  t.same(errorLines(tabs), ['invalid YAML: Tabs are not allowed as indentation (expected valid YAML) [from file config.yaml:2:1]']);
  const duplicate = load(t, { file: yaml('server:\n  listen: a:1\n  listen: b:2\n') });
  t.same(errorLines(duplicate), ['invalid YAML: Map keys must be unique (expected valid YAML) [from file config.yaml:3:3]']);
  t.equal(!duplicate.ok && duplicate.errors[0]?.code, 'invalid_yaml');
});

t.test('error: invalid JSON, with line and column, never echoing the file', async (t) => {
  const result = load(t, { file: { name: 'c.json', text: '{\n  "server": {"authToken": "tok-123"}\n  "source": {}\n}' } });
  t.same(errorLines(result), ["invalid JSON: Expected ',' or '}' after property value (expected valid JSON) [from file c.json:3:3]"]);
  const truncated = load(t, { file: { name: 'c.json', text: '{"server": {' } });
  t.same(errorLines(truncated), ["invalid JSON: Expected property name or '}' (expected valid JSON) [from file c.json:1:13]"]);
  const empty = load(t, { file: { name: 'c.json', text: '{"server": ' } });
  t.same(errorLines(empty), ['invalid JSON: Unexpected end of JSON input (expected valid JSON) [from file c.json:1:12]']);
  const token = load(t, { file: { name: 'c.json', text: '{"server": {"authToken": tok-123}}' } });
  t.same(errorLines(token), ["invalid JSON: Unexpected token 'o' (expected valid JSON) [from file c.json]"]);
  t.notMatch(JSON.stringify(token), /tok-123/);
  t.equal(!token.ok && token.errors[0]?.code, 'invalid_json');
});

t.test('error: JSON keys point at their line', async (t) => {
  const result = load(t, { file: { name: 'c.json', text: '{\n  "server": {\n    "listen": "nope"\n  }\n}\n' } });
  t.same(errorLines(result), ['server.listen: bad listen address: missing ":port" (got "nope", expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from file c.json:3:5]']);
});

t.test('error: file that is not a mapping', async (t) => {
  const result = load(t, { file: yaml('- a\n- b\n') });
  t.same(errorLines(result), ['config file must be a mapping of sections, not a list (expected a mapping with the sections kubernetes, server, enrichment, source, logging) [from file config.yaml]']);
  const scalar = load(t, { file: yaml('eyJhbGciOiJSUzI1NiJ9.secret-looking-token\n') });
  t.same(errorLines(scalar), ['config file must be a mapping of sections, not a string (expected a mapping with the sections kubernetes, server, enrichment, source, logging) [from file config.yaml]']);
  t.notMatch(JSON.stringify(scalar), /secret-looking/, 'a token file passed by mistake is not echoed');
});

t.test('every problem is reported at once, file problems included', async (t) => {
  const result = load(t, { argv: ['--config', 'missing.yaml', '--listen', 'x'], env: { KLE_SOURCE_SINK: 'nowhere' } });
  t.same(!result.ok && result.errors.map((e) => e.code), ['file_not_found', 'bad_listen', 'bad_value']);
});

t.test('check-config FILE argument', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'logging:\n  level: debug\n', 'b.yaml': '' });
  const options = { env: {}, cwd: dir, configFileArgument: true };
  const viaArgument = loadConfig({ ...options, argv: ['a.yaml'] });
  t.equal(viaArgument.ok && viaArgument.config.logging.level, 'debug');
  const viaFlag = loadConfig({ ...options, argv: ['--config', 'a.yaml'] });
  t.equal(viaFlag.ok && viaFlag.config.logging.level, 'debug');
  t.same(errorLines(loadConfig({ ...options, argv: [] })), ['missing config file argument (expected a FILE argument) [from command line]']);
  t.same(errorLines(loadConfig({ ...options, argv: ['a.yaml', 'b.yaml'] })), ['unexpected argument (got "b.yaml", expected a single FILE) [from command line]']);
  t.same(errorLines(loadConfig({ ...options, argv: ['a.yaml', '--config', 'b.yaml'] })), ['--config cannot be combined with the FILE argument (got "b.yaml", expected one config file, given as the FILE argument) [from flag --config]']);
  t.same(errorLines(loadConfig({ ...options, argv: ['missing.yaml'] })), ['config file not found (got "missing.yaml", expected a path to a readable YAML or JSON file) [from command line]']);
});

t.test('parseConfig validates plain objects', async (t) => {
  const result = parseConfig({ server: { listen: '127.0.0.1:0' }, source: { rotateWait: '1s' } });
  t.equal(result.ok && result.config.source.rotateWait, 1000);
  const bad = parseConfig({ server: { listen: 1 } });
  t.same(errorLines(bad), ['server.listen: wrong type (got 1, expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from defaults]']);
  t.same(errorLines(parseConfig({ server: { listen: 1 } }, { kind: 'env', name: 'TEST' })).length, 1);
});

t.test('the loader reads only what it is given', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'server:\n  listen: 127.0.0.1:7\n' });
  const text = readFileSync(join(dir, 'c.yaml'), 'utf8');
  const seen: string[] = [];
  const result = loadConfig({ argv: ['--config', 'c.yaml'], env: {}, cwd: dir, readFile: (path) => { seen.push(path); return text; } });
  t.same(seen, [join(dir, 'c.yaml')], 'relative names resolve against cwd');
  t.equal(result.ok && result.config.server.listen, '127.0.0.1:7');
});

t.test('kubernetes.podSource and kubernetes.kubelet: defaults, and bad values named by key', async (t) => {
  const d = defaultConfig().kubernetes;
  t.equal(d.podSource, 'apiserver');
  t.same(d.kubelet, { pollInterval: 5000, tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token', insecureSkipTlsVerify: false });

  const ok = load(t, { file: yaml('kubernetes:\n  podSource: kubelet\n  kubelet:\n    url: https://10.0.0.5:10250\n    pollInterval: 2s\n    caFile: /etc/kubelet-ca.crt\n') });
  t.match(ok, { ok: true, config: { kubernetes: { podSource: 'kubelet', kubelet: { url: 'https://10.0.0.5:10250', pollInterval: 2000, caFile: '/etc/kubelet-ca.crt' } } } });
  t.match(load(t, { env: { KLE_KUBERNETES_POD_SOURCE: 'kubelet', KLE_KUBERNETES_KUBELET_POLL_INTERVAL: '10s' } }), { ok: true, config: { kubernetes: { podSource: 'kubelet', kubelet: { pollInterval: 10_000 } } } });

  const bad = (text: string) => errorLines(load(t, { file: yaml(text) }));
  t.match(bad('kubernetes:\n  podSource: kublet\n'), [/kubernetes\.podSource.*did you mean "kubelet".*got "kublet"/]);
  t.match(bad('kubernetes:\n  kubelet:\n    url: 10.0.0.5:10250\n'), [/kubernetes\.kubelet\.url.*bad URL/]);
  t.match(bad('kubernetes:\n  kubelet:\n    pollInterval: -5s\n'), [/kubernetes\.kubelet\.pollInterval.*bad duration/]);
  t.match(bad('kubernetes:\n  kubelet:\n    pollInterval: 10ms\n'), [/kubernetes\.kubelet\.pollInterval.*at least 100ms/]);
  t.match(bad('kubernetes:\n  kubelet:\n    url: http://10.0.0.5:10255\n'), [/kubernetes\.kubelet\.url.*plain http:\/\/ sends the token unprotected.*insecureSkipTlsVerify/]);
  t.match(bad('kubernetes:\n  kubelet:\n    url: http://10.0.0.5:10255\n    insecureSkipTlsVerify: true\n'), ['<valid>']);
  t.match(bad('kubernetes:\n  kubelet:\n    caFile: /ca.crt\n    insecureSkipTlsVerify: true\n'), [/kubernetes\.kubelet\.caFile.*cannot be set together with kubernetes\.kubelet\.insecureSkipTlsVerify/]);
  t.match(bad('kubernetes:\n  podSource: kubelet\n  podLabelSelector: app=x\n'), [/kubernetes\.podLabelSelector.*not applied to pods read from the kubelet/]);
  t.match(bad('kubernetes:\n  podSource: apiserver\n  podLabelSelector: app=x\n'), ['<valid>']);
});

t.test('an OTLP source.sink implies enrichment.schema otel, and refuses another schema written beside it', async (t) => {
  for (const sink of ['otlp+http://collector:4318', 'otlp+grpcs://collector']) {
    t.match(load(t, { argv: ['--sink', sink] }), { ok: true, config: { enrichment: { schema: 'otel' }, source: { sink } } }, `${sink}: otel implied`);
    t.match(load(t, { file: yaml(`enrichment:\n  schema: otel\nsource:\n  sink: ${sink}\n`) }), { ok: true }, `${sink}: otel written`);
  }
  t.match(load(t, { argv: ['--sink', 'http://collector:8080'] }), { ok: true, config: { enrichment: { schema: 'vector' } } }, 'other sinks keep the default');
  t.same(errorLines(load(t, { file: yaml('enrichment:\n  schema: vector\nsource:\n  sink: otlp+grpc://collector:4317\n') })), [
    'enrichment.schema: an OTLP source.sink sends OpenTelemetry log records, which only the otel schema gives (got "vector", expected otel, or unset (then implied), with an otlp+ source.sink) [from file config.yaml:2:3]',
  ]);
  t.match(errorLines(load(t, { argv: ['--sink', 'otlp+grpc://collector:4317/v1/logs'] })), [/source\.sink: bad sink: an OTLP\/gRPC endpoint is host:port only/]);
});
