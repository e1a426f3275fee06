/**
 * Headless Chromium from the system's packages (Debian: `apt-get install chromium`), driven by
 * playwright-core, which downloads no browser. Used by the page's tests, its bench and the README
 * screenshot script. A fresh profile per launch, removed on close.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.KLE_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumMissing(): string | false {
  return existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install -y chromium, or set KLE_CHROMIUM)`;
}

export interface LaunchedBrowser {
  /** The browser's one context (a persistent one: playwright's way to take a fresh --user-data-dir). */
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1400, height: 820 }): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'kle-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 120_000,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
