import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { runUntilSignal } from '../../src/cli/index.ts';
import type { SignalSource } from '../../src/cli/index.ts';

const runnerUrl = new URL('../../src/cli/run-until-signal.ts', import.meta.url).href;

/**
 * A child process running a real HTTP server under runUntilSignal. It prints "ready <port>" once
 * listening; `hangOnStop` makes stop() never finish (to test the forced exit).
 */
function serviceScript(hangOnStop: boolean): string {
  return `
import { createServer } from 'node:http';
import { runUntilSignal } from ${JSON.stringify(runnerUrl)};
process.exitCode = await runUntilSignal(async () => {
  const server = createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write('ready ' + server.address().port + '\\n');
  return {
    stop: () => ${hangOnStop ? 'new Promise(() => {})' : "new Promise((resolve) => server.close(() => { process.stdout.write('closed\\n'); resolve(); }))"},
  };
});
`;
}

interface Child {
  /** Resolves when stdout (or stderr) has printed a line matching `pattern`. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

function startChild(t: Test, script: string): Child {
  const dir = t.testdir({ 'service.mjs': script });
  const child = spawn(process.execPath, [join(dir, 'service.mjs')], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  const emitter = new EventEmitter();
  child.stdout.on('data', (chunk: Buffer) => { output.stdout += chunk; emitter.emit('data'); });
  child.stderr.on('data', (chunk: Buffer) => { output.stderr += chunk; emitter.emit('data'); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, ...output }));
  });
  // Never leave a child behind, whatever the test outcome.
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return {
    exited,
    kill: (signal) => child.kill(signal),
    waitFor: (stream, pattern) => new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output[stream]);
        if (match !== null) {
          emitter.off('data', check);
          resolve(match);
        }
      };
      emitter.on('data', check);
      void exited.then(() => reject(new Error(`child exited before printing ${pattern}: ${JSON.stringify(output)}`)));
      check();
    }),
  };
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

t.test('SIGTERM stops the service gracefully and exits 0', async (t) => {
  const child = startChild(t, serviceScript(false));
  const [, port] = await child.waitFor('stdout', /ready (\d+)\n/);
  t.equal(await get(Number(port)), 'ok', 'the service is serving');
  child.kill('SIGTERM');
  const result = await child.exited;
  t.equal(result.code, 0);
  t.equal(result.signal, null);
  t.match(result.stdout, /closed\n/, 'stop() ran to completion');
  t.equal(result.stderr, 'received SIGTERM, shutting down\nstopped\n');
});

t.test('SIGINT does the same', async (t) => {
  const child = startChild(t, serviceScript(false));
  await child.waitFor('stdout', /ready \d+\n/);
  child.kill('SIGINT');
  const result = await child.exited;
  t.equal(result.code, 0);
  t.equal(result.stderr, 'received SIGINT, shutting down\nstopped\n');
});

t.test('a second signal while stopping forces exit 1', async (t) => {
  const child = startChild(t, serviceScript(true));
  await child.waitFor('stdout', /ready \d+\n/);
  child.kill('SIGTERM');
  await child.waitFor('stderr', /shutting down\n/);
  child.kill('SIGINT');
  const result = await child.exited;
  t.equal(result.code, 1);
  t.equal(result.stderr, 'received SIGTERM, shutting down\nreceived SIGINT again, exiting now\n');
});

/** Signals delivered by the test instead of the OS (the OS path is covered above). */
class TestSignals extends EventEmitter implements SignalSource {
  send(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
}

t.test('a signal during start stops the service once it has started', async (t) => {
  const signals = new TestSignals();
  const messages: string[] = [];
  const events: string[] = [];
  let finishStart: () => void = () => undefined;
  const started = new Promise<void>((resolve) => { finishStart = resolve; });
  const result = runUntilSignal(async () => {
    events.push('starting');
    await started;
    events.push('started');
    return { stop: async () => { events.push('stopped'); } };
  }, { process: signals, log: (m) => messages.push(m), exit: () => t.fail('no forced exit') });
  signals.send('SIGTERM');
  finishStart();
  t.equal(await result, 0);
  t.same(events, ['starting', 'started', 'stopped']);
  t.same(messages, ['received SIGTERM, shutting down', 'stopped']);
  t.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT'), 0, 'listeners removed');
});

t.test('start or stop failures exit 1 with a message', async (t) => {
  const signals = new TestSignals();
  const messages: string[] = [];
  const failedStart = await runUntilSignal(async () => { throw new Error('port 8080 in use'); }, { process: signals, log: (m) => messages.push(m) });
  t.equal(failedStart, 1);
  t.same(messages, ['failed to start: port 8080 in use']);
  t.equal(signals.listenerCount('SIGTERM'), 0);

  messages.length = 0;
  const failedStop = runUntilSignal(async () => ({ stop: async () => { throw new Error('checkpoint write failed'); } }), { process: signals, log: (m) => messages.push(m) });
  await new Promise((resolve) => setImmediate(resolve));
  signals.send('SIGINT');
  t.equal(await failedStop, 1);
  t.same(messages, ['received SIGINT, shutting down', 'failed to stop cleanly: checkpoint write failed']);
});
