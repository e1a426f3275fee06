// The real CLI as a user runs it: a child process, its exit status, stdout and stderr.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { COMMANDS, main } from '../../src/cli/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Run { code: number; stdout: string; stderr: string }

/** Runs `node src/cli/main.ts ...args` with a clean environment (plus `env`). */
function cli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [`${root}src/cli/main.ts`, ...args],
      { cwd: options.cwd ?? root, env: { PATH: process.env.PATH ?? '', ...options.env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

/**
 * The same entry point in this process, with captured output: for exhaustive loops, where a child
 * per case would only add start-up time. The child-process tests below prove the two agree.
 */
async function inProcess(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? {},
    cwd: options.cwd ?? root,
  });
  return { code, stdout, stderr };
}

t.test('top-level --help, -h, help and --version', async (t) => {
  const [help, versionRun] = await Promise.all([cli(['--help']), cli(['--version'])]);
  const short = await inProcess(['-h']);
  t.equal(help.code, 0);
  t.equal(help.stderr, '');
  t.match(help.stdout, /^kube-log-enricher \d+\.\d+\.\d+: /);
  t.match(help.stdout, /Usage: kube-log-enricher <command> \[options\]/);
  for (const name of ['serve', 'source', 'agent', 'demo', 'check-config FILE']) t.match(help.stdout, new RegExp(`\\n  ${name} +\\S`), `lists ${name}`);
  t.equal(short.stdout, help.stdout);
  t.same(versionRun, { code: 0, stdout: `${version}\n`, stderr: '' });
});

t.test('--help of every subcommand', async (t) => {
  for (const command of COMMANDS) {
    const run = await inProcess([command.name, '--help']);
    t.equal(run.code, 0, `${command.name} --help exits 0`);
    t.equal(run.stderr, '');
    t.ok(run.stdout.startsWith(`Usage: kube-log-enricher ${command.name} ${command.usage}\n`), `${command.name} usage line`);
    for (const flag of command.flags) t.match(run.stdout, `\n  --${flag} `, `${command.name} documents --${flag}`);
    t.match(run.stdout, '\n  -h, --help ');
  }
  // The real process prints the same; `help agent` and `agent -h` agree; --help wins over
  // anything invalid next to it.
  const serveHelp = await cli(['serve', '--help']);
  t.same(serveHelp, await inProcess(['serve', '--help']));
  t.same(await inProcess(['help', 'agent']), await inProcess(['agent', '-h']));
  t.same(await inProcess(['serve', '--nope', '--help']), serveHelp);
});

t.test('no command, unknown command, option before the command', async (t) => {
  const unknown = await cli(['serv']);
  const none = await inProcess([]);
  const far = await inProcess(['frobnicate']);
  const early = await inProcess(['--config', 'c.yaml', 'serve']);
  t.equal(none.code, 2);
  t.equal(none.stdout, '');
  t.match(none.stderr, 'Usage: kube-log-enricher <command> [options]');
  t.same(unknown, { code: 2, stdout: '', stderr: 'kube-log-enricher: unknown command "serv", did you mean "serve"?\nRun \'kube-log-enricher --help\' for the list of commands.\n' });
  t.equal(far.stderr, 'kube-log-enricher: unknown command "frobnicate"\nRun \'kube-log-enricher --help\' for the list of commands.\n');
  t.equal(early.code, 2);
  t.equal(early.stderr, 'kube-log-enricher: unknown option "--config"; options go after the command, e.g. kube-log-enricher serve --config FILE\nRun \'kube-log-enricher --help\' for the list of commands.\n');
});

t.test('check-config prints the effective, redacted configuration', async (t) => {
  const dir = t.testdir({
    'good.yaml': 'server:\n  listen: 0.0.0.0:9000\n  authToken: very-secret-token\nkubernetes:\n  deletionDelay: 2m\nsource:\n  include: ["**/*.log", "**/*.gz"]\n',
  });
  const run = await cli(['check-config', 'good.yaml', '--set', 'source.rotateWait=1s'], { cwd: dir, env: { KLE_SERVER_MAX_BODY_BYTES: '1MiB', NODE_NAME: 'node-7' } });
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  t.notMatch(run.stdout, /very-secret-token/);
  const printed = parse(run.stdout) as Record<string, Record<string, unknown>>;
  t.same(printed.server, {
    listen: '0.0.0.0:9000', grpcListen: '127.0.0.1:4317', authToken: '<redacted>', maxBodyBytes: '1MiB', streamBufferEvents: 1000,
    maxInflightBytes: '8MiB', maxInflightWait: '5s', maxStreamSubscribers: 100, streamTimeShare: 0.1, headersTimeout: '10s', requestTimeout: '30s', sendTimeout: '30s', keepAliveTimeout: '72s', websocketPingInterval: '30s',
  });
  t.equal((printed.kubernetes as Record<string, unknown>).deletionDelay, '2m');
  t.equal((printed.kubernetes as Record<string, unknown>).nodeName, 'node-7');
  t.same((printed.source as Record<string, unknown>).include, ['**/*.log', '**/*.gz']);
  t.equal((printed.source as Record<string, unknown>).rotateWait, '1s');
  t.equal((printed.logging as Record<string, unknown>).level, 'info');
});

t.test('check-config reports every problem, one line each, and exits 2', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'server:\n  listen: "8080"\n  maxBodyBytes: 8mb\n  authToken: hunter2\n  authTokenFile: /run/token\nenrichment:\n  schema: elastic\nsource:\n  podDir: /var/log/pods\n',
    'broken.yaml': 'server:\n  listen: [1, 2\n',
  });
  const run = await cli(['check-config', 'bad.yaml'], { cwd: dir, env: { KLE_KUBERNETES_DELETION_DELAY: '60' } });
  const broken = await inProcess(['check-config', 'broken.yaml'], { cwd: dir });
  const missing = await inProcess(['check-config', 'nope.yaml'], { cwd: dir });
  const noFile = await inProcess(['check-config'], { cwd: dir });
  t.equal(run.code, 2);
  t.equal(run.stdout, '');
  t.same(run.stderr.split('\n'), [
    'server.authToken: cannot be set together with server.authTokenFile (got "<redacted>", expected only one of server.authToken and server.authTokenFile) [from file bad.yaml:4:3]',
    'kubernetes.deletionDelay: bad duration: 60 has no unit, write "60s" or "60ms" (got "60", expected a duration such as "500ms", "60s", "5m", "1h") [from env KLE_KUBERNETES_DELETION_DELAY]',
    'server.listen: bad listen address: missing ":port" (got "8080", expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from file bad.yaml:2:3]',
    'server.maxBodyBytes: bad size: unknown unit "mb", use B, KB, MB, GB, KiB, MiB or GiB (got "8mb", expected a size such as "512B", "64KiB", "1MiB", "10MB") [from file bad.yaml:3:3]',
    'enrichment.schema: bad value (got "elastic", expected one of "vector", "fluentbit", "otel") [from file bad.yaml:7:3]',
    'source.podDir: unknown key, did you mean "source.podsDir"? (got "/var/log/pods", expected a key of source: podsDir, include, exclude, readFrom, dataDir, maxLineBytes, maxLineAction, maxMergedLineBytes, partialFlushTimeout, rotateWait, rescanInterval, checkpointInterval, batchMaxEvents, batchMaxWait, maxBufferedBytes, sink, service, transport, serviceToken, serviceTokenFile, selfPodUid, selfPodName) [from file bad.yaml:9:3]',
    '',
  ]);
  t.notMatch(run.stderr, /hunter2/);

  t.same(broken, { code: 2, stdout: '', stderr: 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] (expected valid YAML) [from file broken.yaml:3:1]\n' });
  t.same(missing, { code: 2, stdout: '', stderr: 'config file not found (got "nope.yaml", expected a path to a readable YAML or JSON file) [from command line]\n' });
  t.same(noFile, { code: 2, stdout: '', stderr: 'missing config file argument (expected a FILE argument) [from command line]\n' });
});

t.test('invalid configuration stops any command with status 2', async (t) => {
  const run = await cli(['serve', '--listen', 'localhost', '--pods-dir', '/x'], { env: { KLE_SERVER_LISTN: 'x' } });
  t.same(run, {
    code: 2,
    stdout: '',
    stderr: [
      'unknown environment variable, did you mean KLE_SERVER_LISTEN? (expected a variable listed in docs/configuration.md) [from env KLE_SERVER_LISTN]',
      'option not accepted by this command (expected an option listed by --help) [from flag --pods-dir]',
      'server.listen: bad listen address: missing ":port" (got "localhost", expected host:port such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080") [from flag --listen]',
      '',
    ].join('\n'),
  });
});

t.test('check-config reads the token files: unreadable or empty ones are errors, exit 2, contents never printed', async (t) => {
  const dir = t.testdir({ 'empty-token': '  \n', 'token': 's3cret-token\n', 'c.yaml': 'source:\n  service: http://127.0.0.1:8080\n' });
  const bad = await inProcess(['check-config', 'c.yaml', '--auth-token-file', `${dir}/missing-token`, '--set', `source.serviceTokenFile=${dir}/empty-token`], { cwd: dir });
  t.same(bad, {
    code: 2,
    stdout: '',
    stderr: `server.authTokenFile: cannot read the token file ${dir}/missing-token (ENOENT)\nsource.serviceTokenFile: the token file ${dir}/empty-token is empty\n`,
  });
  const good = await inProcess(['check-config', 'c.yaml', '--auth-token-file', `${dir}/token`, '--set', `source.serviceTokenFile=${dir}/token`], { cwd: dir });
  t.equal(good.code, 0, good.stderr);
  t.equal(good.stderr, '');
  t.notMatch(good.stdout, /s3cret/);
});

t.test('an empty or unreadable token file is a start-up error naming the key and the file, for both keys', async (t) => {
  const dir = t.testdir({ 'empty-token': '\n' });
  const env = { HOME: dir, PATH: process.env.PATH ?? '' };
  const [serveEmpty, serveMissing, sourceEmpty, sourceMissing] = await Promise.all([
    cli(['serve', '--listen', '127.0.0.1:0', '--auth-token-file', `${dir}/empty-token`], { env }),
    cli(['serve', '--listen', '127.0.0.1:0', '--auth-token-file', `${dir}/missing-token`], { env }),
    cli(['source', '--service', 'http://127.0.0.1:9', '--set', `source.serviceTokenFile=${dir}/empty-token`, '--data-dir', dir, '--pods-dir', dir], { env }),
    cli(['source', '--service', 'http://127.0.0.1:9', '--set', `source.serviceTokenFile=${dir}/missing-token`, '--data-dir', dir, '--pods-dir', dir], { env }),
  ]);
  t.same(serveEmpty, { code: 1, stdout: '', stderr: `kube-log-enricher: failed to start: server.authTokenFile: the token file ${dir}/empty-token is empty\n` });
  t.same(serveMissing, { code: 1, stdout: '', stderr: `kube-log-enricher: failed to start: server.authTokenFile: cannot read the token file ${dir}/missing-token (ENOENT)\n` });
  t.same(sourceEmpty, { code: 1, stdout: '', stderr: `kube-log-enricher: failed to start: source.serviceTokenFile: the token file ${dir}/empty-token is empty\n` });
  t.same(sourceMissing, { code: 1, stdout: '', stderr: `kube-log-enricher: failed to start: source.serviceTokenFile: cannot read the token file ${dir}/missing-token (ENOENT)\n` });
});

t.test('long-running commands fail to start with one actionable message and exit 1', async (t) => {
  // No cluster credentials anywhere: the message names every place tried.
  const env = { HOME: t.testdir({}), PATH: process.env.PATH ?? '' };
  for (const name of ['serve', 'agent']) {
    const run = await cli([name, '--listen', '127.0.0.1:0'], { env });
    t.equal(run.code, 1, `${name} exits 1`);
    t.equal(run.stdout, '');
    t.match(run.stderr, /^kube-log-enricher: failed to start: no Kubernetes credentials found .*tried, in order: in-cluster service account/m);
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  }
  const source = await cli(['source'], { env });
  t.equal(source.code, 1, 'source without --service exits 1');
  t.equal(source.stderr, 'kube-log-enricher: failed to start: source.service: the `source` command needs the service URL (--service http://127.0.0.1:8080)\n');
});
