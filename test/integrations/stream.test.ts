/**
 * The /v1/stream recipes of docs/integrations.md: the Node client is copied out of the page and
 * run as it is (a child process, the project's `ws`), and the websocat command's URL and header are
 * replayed with `ws`. Events reach the stream through /v1/forward (published once the sink
 * acknowledged them), as they would from Vector in the Vector recipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { WebSocket } from 'ws';
import { createSink } from '../../src/sink/index.ts';
import { criLine } from '../builders/lines.ts';
import { recipe, serviceConfig, yamlRecipe } from './recipes.ts';
import { vectorFileEvent, vectorHttpRequest } from './shippers.ts';
import { NdjsonReceiver, parseNdjson, send, startRecipeStack, type RecipeStack } from './stack.ts';

const TOKEN = 'stream-token';
const config = serviceConfig('vector/kube-log-enricher.yaml');
const vectorSink = (yamlRecipe('vector/vector.yaml').sinks as Record<string, Parameters<typeof vectorHttpRequest>[0]>).kube_log_enricher!;

/** Lines of every pod of the cluster, through /v1/forward as Vector sends them. */
async function forwardLinesOfEveryPod(stack: RecipeStack, tag: string): Promise<void> {
  const events = stack.pods.flatMap((pod) => [
    vectorFileEvent(pod.file, criLine({ message: `${tag} one` })),
    vectorFileEvent(pod.file, criLine({ message: `${tag} two`, stream: 'stderr' })),
  ]);
  const res = await send(`${stack.url}/v1/forward`, vectorHttpRequest(vectorSink, events, { KLE_TOKEN: TOKEN }));
  if (res.status !== 200) throw new Error(`forward failed: ${res.status} ${res.text}`);
}

/** A child process's output, line by line, with a way to wait for a line. */
class ChildOutput {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  exitCode: number | null | undefined = undefined;
  readonly #waiters: (() => void)[] = [];

  constructor(child: ChildProcess) {
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        into.push(...lines);
        this.#wake();
      };
    };
    child.stdout!.on('data', collect(this.stdout));
    child.stderr!.on('data', collect(this.stderr));
    child.on('exit', (code) => {
      this.exitCode = code;
      this.#wake();
    });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

t.test('stream consumers', async (t) => {
  const receiver = await NdjsonReceiver.start(t);
  const stack = await startRecipeStack(t, { config, sink: createSink(receiver.url), authToken: TOKEN });
  const cart = stack.pod('cart');
  // The page's script, in a directory under the project so that `import 'ws'` resolves.
  const script = join(t.testdir(), 'stream-client.mjs');
  writeFileSync(script, recipe('stream/stream-client.mjs'));

  function runClient(token: string): { child: ChildProcess; output: ChildOutput } {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, KLE_URL: stack.url.replace(/^http/, 'ws'), KLE_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    return { child, output: new ChildOutput(child) };
  }

  t.test('the Node client from the page prints the cart pods\' lines only', async (t) => {
    const { output } = runClient(TOKEN);
    await output.until(() => output.stderr.includes('subscribed'), 'the subscription');
    await forwardLinesOfEveryPod(stack, 'node');
    await output.until(() => output.stdout.length >= 2, 'two lines');
    t.same(output.stdout, [`${cart.name} stdout node one`, `${cart.name} stderr node two`]);
    t.equal(receiver.events.length, stack.pods.length * 2, 'every event reached the sink; the stream only filters what it shows');
  });

  t.test('the Node client exits 1 on a refused upgrade', async (t) => {
    const { output } = runClient('wrong-token');
    await output.until(() => output.exitCode !== undefined, 'the client to exit');
    t.equal(output.exitCode, 1);
    t.same(output.stderr, ['HTTP 401']);
  });

  t.test('the websocat command\'s URL and header', async (t) => {
    const command = recipe('stream/websocat.sh');
    const url = /'(ws:\/\/[^']+)'/.exec(command)?.[1];
    const header = /-H "([^:]+): ([^"]+)"/.exec(command);
    t.ok(url !== undefined && header !== null, 'the command names a URL and a header');
    const target = new URL(url!);
    t.equal(target.pathname, '/v1/stream');
    t.same(Object.fromEntries(target.searchParams), { namespace: 'shop', labelSelector: 'app=cart' }, 'the selector is URL-encoded');
    t.equal(header![1], 'Authorization');

    const socket = new WebSocket(`${stack.url.replace(/^http/, 'ws')}${target.pathname}${target.search}`, {
      headers: { [header![1]!]: header![2]!.replace('$KLE_TOKEN', TOKEN) },
    });
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    t.teardown(() => socket.close());
    await forwardLinesOfEveryPod(stack, 'websocat');
    const deadline = Date.now() + 10_000;
    while (messages.flatMap(parseNdjson).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const events = messages.flatMap(parseNdjson);
    t.same(events.map((e) => [(e.kubernetes as { pod_name: string }).pod_name, e.message]), [[cart.name, 'websocat one'], [cart.name, 'websocat two']]);
    t.ok(messages.every((m) => m.endsWith('\n')), 'each message is NDJSON, each line ending with a newline');
  });

  t.test('a selector that does not parse is refused before the upgrade', async (t) => {
    const socket = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/v1/stream?labelSelector=${encodeURIComponent('app in (cart')}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      socket.once('open', () => reject(new Error('the upgrade was accepted')));
    });
    t.equal(refused.status, 400);
    t.match(JSON.parse(refused.body), { details: [{ field: 'labelSelector' }] });
  });
});
