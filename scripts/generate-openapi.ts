/**
 * `npm run openapi`: writes openapi/openapi.json, the OpenAPI 3.1 document generated from the
 * routes' zod schemas. The app is built with real, minimal dependencies (an empty store, the
 * default enricher) and never listens; the document does not depend on them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/index.ts';
import { createEnricher } from '../src/enrich/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { toEnricherOptions, toServerOptions } from '../src/runtime/options.ts';
import { buildApp, renderOpenApi } from '../src/server/index.ts';
import { RetainingStore } from '../src/store/index.ts';

export const OPENAPI_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'openapi.json');

export async function generateOpenApi(): Promise<string> {
  const config = defaultConfig();
  const store = new RetainingStore({ deletionDelayMs: 0 });
  const metrics = createMetrics(undefined, { processMetrics: false });
  const app = await buildApp({
    enricher: createEnricher(toEnricherOptions(config), { store: store.reader(), metrics }),
    store: store.reader(),
    readiness: { status: () => [] },
    metrics,
    options: toServerOptions(config, undefined),
  });
  try {
    await app.ready();
    return renderOpenApi(app);
  } finally {
    await app.close();
    store.close();
  }
}

if (import.meta.main) {
  const text = await generateOpenApi();
  mkdirSync(dirname(OPENAPI_FILE), { recursive: true });
  writeFileSync(OPENAPI_FILE, text);
  console.log(`wrote ${OPENAPI_FILE} (${text.length} bytes)`);
}
