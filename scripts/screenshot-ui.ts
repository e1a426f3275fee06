/**
 * `node scripts/screenshot-ui.ts [out.png]`: the README's picture of the live-tail page, taken
 * in the system's headless Chromium against the demo, after a few seconds of traffic and pod
 * churn, with a search and an event opened. Default out: docs/img/live-tail.png.
 */
import { Writable } from 'node:stream';
import { defaultConfig } from '../src/config/index.ts';
import { startDemo } from '../src/demo/demo.ts';
import { createLogger } from '../src/log/index.ts';
import { chromiumMissing, launchChromium } from '../test/ui/browser.ts';

const out = process.argv[2] ?? new URL('../docs/img/live-tail.png', import.meta.url).pathname;
const missing = chromiumMissing();
if (missing !== false) throw new Error(missing);

const base = defaultConfig();
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const demo = await startDemo(
  { ...base, server: { ...base.server, listen: '127.0.0.1:0' } },
  { env: {}, homeDir: undefined, logger: createLogger({ level: 'warn' }), stdout: discard },
  { tickMs: 150, churnMs: 2000, lastLinesMs: 1500, removeDirAfterMs: 15_000 },
);
const launched = await launchChromium({ width: 1440, height: 820 });
try {
  const page = await launched.context.newPage();
  page.setDefaultTimeout(120_000);
  await page.goto(`${demo.agent.service.url}/?q=orders`);
  await page.waitForSelector('#connection.ok');
  // Enough polls for the chart to have a line, and churn for retained pods.
  await page.waitForTimeout(12_000);
  await page.click('#spacer .row.event:not([hidden]) >> nth=-12');
  await page.waitForSelector('#detail:not([hidden])');
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await launched.close();
  await demo.stop();
}
