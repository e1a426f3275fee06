/**
 * The live-tail page's cost: how many events per second it follows in the browser without
 * falling behind. The real `serve` command (compiled, its own process) with a simulated API
 * server of 20 pods; this process posts CRI lines to /v1/enrich at a steady rate (one NDJSON
 * batch every 100 ms) while the page, in the system's headless Chromium, follows /v1/stream with
 * no filter. A control subscriber (a plain `ws` client here) follows the same stream, so a drop
 * it sees too is the service's fan-out, not the page.
 *
 * Per rate and round: events posted, events the page received, events the service dropped for
 * it (the page shows them as gaps), how long after the last post the page had everything, and
 * the page's animation frames per second while it followed (60 is a browser with time to spare).
 * "Keeps up" means no drop and every event received. Rates are run in a rotated order each round.
 *
 * The service runs with server.streamTimeShare=1 (STREAM_SHARE): at its default, 0.1, the fan-out's
 * time budget drops events before the page's limit is reached (the control then drops as many),
 * and this would measure the service rather than the page.
 *
 * Run: npm run bench ui   (RATES=1000,2000,5000,10000,20000 DURATION_S=8 ROUNDS=3 STREAM_SHARE=1; needs
 * /usr/bin/chromium or KLE_CHROMIUM; asserts nothing)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { criLine, podLogPath } from '../test/builders/lines.ts';
import { chromiumMissing, launchChromium } from '../test/ui/browser.ts';
import { benchPods, envList, sleep, startCluster } from './harness.ts';
import { build, freePort, runCommand, waitUntilReady } from './service-process.ts';
import { fmt, summarise } from './stats.ts';

const RATES = envList('RATES', '1000,2000,5000,10000,20000');
const DURATION_S = Number(process.env.DURATION_S ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const STREAM_SHARE = process.env.STREAM_SHARE ?? '1';
const TICK_MS = 100;
/** How long the page may take to catch up after the last post before the run counts as fallen behind. */
const SETTLE_MS = 20_000;

const pods = benchPods(20);
const files = pods.map((p) => podLogPath({ namespace: p.namespace, pod: p.name, uid: p.uid, container: p.container }));

let seq = 0;
function batch(lines: number): string {
  let body = '';
  for (let i = 0; i < lines; i++) {
    const n = seq++;
    const message = `10.1.${n % 255}.${(n >> 8) % 255} - - "GET /api/v1/orders/${n} HTTP/1.1" 200 ${n % 5000} ${(n % 250) / 10}ms`;
    body += `{"file":${JSON.stringify(files[n % files.length])},"line":${JSON.stringify(criLine({ message, stream: n % 10 === 0 ? 'stderr' : 'stdout' }))}}\n`;
  }
  return body;
}

/** The control subscriber: counts events and announced drops. */
function control(url: string): Promise<{ counts: { events: number; dropped: number }; close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/stream`, { perMessageDeflate: false });
    const counts = { events: 0, dropped: 0 };
    socket.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('{"dropped":')) counts.dropped += (JSON.parse(text) as { dropped: number }).dropped;
      else for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) counts.events++;
    });
    socket.once('open', () => resolve({ counts, close: () => socket.close() }));
    socket.once('error', reject);
  });
}

interface Run {
  rate: number;
  posted: number;
  postedPerSecond: number;
  received: number;
  dropped: number;
  controlDropped: number;
  catchUpMs: number;
  fps: number;
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing !== false) {
    console.log(`skipped: ${missing}`);
    return;
  }
  build();
  const dir = mkdtempSync(join(os.tmpdir(), 'kle-ui-bench-'));
  const sim = await startCluster(pods);
  const kubeconfig = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = runCommand(['serve', '--kubeconfig', kubeconfig, '--node-name', 'node-a', '--listen', `127.0.0.1:${port}`, '--set', `server.streamTimeShare=${STREAM_SHARE}`]);
  const launched = await launchChromium();
  try {
    await waitUntilReady(url, service);
    const page = await launched.context.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(`${url}/`);
    await page.waitForSelector('#connection.ok');
    // Counts animation frames: a page whose main thread is saturated paints less often.
    await page.evaluate(() => {
      const g = globalThis as unknown as { __frames: number; requestAnimationFrame(cb: () => void): void };
      g.__frames = 0;
      const tick = () => {
        g.__frames++;
        g.requestAnimationFrame(tick);
      };
      g.requestAnimationFrame(tick);
    });
    const watcher = await control(url);
    const pageCounts = async () => {
      const [received, dropped, frames] = await page.evaluate(() => {
        const g = globalThis as unknown as { __frames: number; document: { querySelector(s: string): { getAttribute(n: string): string | null } } };
        const status = g.document.querySelector('#status');
        return [Number(status.getAttribute('data-received')), Number(status.getAttribute('data-dropped')), g.__frames];
      });
      return { received, dropped, frames };
    };

    const runOnce = async (rate: number): Promise<Run> => {
      const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
      const before = await pageCounts();
      const controlBefore = { ...watcher.counts };
      const started = performance.now();
      let posted = 0;
      for (let tick = 0; tick < (DURATION_S * 1000) / TICK_MS; tick++) {
        const res = await fetch(`${url}/v1/enrich`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: batch(perTick) });
        await res.arrayBuffer();
        posted += perTick;
        const next = started + (tick + 1) * TICK_MS;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const postedFor = performance.now() - started;
      const during = await pageCounts();
      const fps = (during.frames - before.frames) / (postedFor / 1000);
      let after = during;
      const settleStart = performance.now();
      while (after.received - before.received + (after.dropped - before.dropped) < posted && performance.now() - settleStart < SETTLE_MS) {
        await sleep(50);
        after = await pageCounts();
      }
      return {
        rate,
        posted,
        postedPerSecond: posted / (postedFor / 1000),
        received: after.received - before.received,
        dropped: after.dropped - before.dropped,
        controlDropped: watcher.counts.dropped - controlBefore.dropped,
        catchUpMs: performance.now() - settleStart,
        fps,
      };
    };

    console.log(`${os.cpus().length} cores, shared with other work; Chromium ${launched.context.browser()?.version() ?? '?'}; ${DURATION_S} s per rate, ${ROUNDS} rounds; server.streamTimeShare ${STREAM_SHARE}`);
    await runOnce(RATES[0]!); // warm-up (JIT, first paints), not reported
    const runs: Run[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < RATES.length; k++) {
        const rate = RATES[(k + r) % RATES.length]!;
        const run = await runOnce(rate);
        runs.push(run);
        console.log(
          `round ${r + 1} rate ${fmt(rate)}/s: posted ${fmt(run.postedPerSecond)}/s, page received ${fmt(run.received)}/${fmt(run.posted)}, dropped ${fmt(run.dropped)} ` +
            `(control ${fmt(run.controlDropped)}), caught up ${fmt(run.catchUpMs)} ms after the last post, ${fmt(run.fps)} frames/s`,
        );
        // Let the page and the service drain before the next rate.
        await sleep(1000);
      }
    }
    console.log('\nrate/s   posted/s (median)   kept up   page drops (median)   catch-up ms (median)   frames/s (median)');
    for (const rate of RATES) {
      const of = runs.filter((x) => x.rate === rate);
      const keptUp = of.filter((x) => x.dropped === 0 && x.received === x.posted).length;
      console.log(
        `${fmt(rate).padStart(7)}   ${fmt(summarise(of.map((x) => x.postedPerSecond)).median).padStart(17)}   ${`${keptUp}/${of.length}`.padStart(7)}   ` +
          `${fmt(summarise(of.map((x) => x.dropped)).median).padStart(19)}   ${fmt(summarise(of.map((x) => x.catchUpMs)).median).padStart(20)}   ${fmt(summarise(of.map((x) => x.fps)).median).padStart(17)}`,
      );
    }
    watcher.close();
  } finally {
    await launched.close();
    service.child.kill('SIGTERM');
    await new Promise((resolve) => service.child.once('exit', resolve));
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
