/**
 * Keeps `import ... from 'node:http'` from loading Node's bundled undici (the fetch and WebSocket
 * implementation, ~760 KB of source): about 14 MiB of RSS and 3 MiB of heap in every process,
 * for classes this project never uses (it serves WebSockets with `ws`).
 *
 * Why it happens: `node:http` exports `WebSocket`, `CloseEvent` and `MessageEvent` as lazy
 * getters, which `require('node:http')` leaves alone; but the ES namespace of `node:http` (for us,
 * and for @kubernetes/client-node, which are ES modules) reads every export once when it is built,
 * so the getters run and the bundle loads (nodejs/node#59686 measures the same for start-up time).
 * The names of that namespace are fixed at the first load of the module, so the getters cannot
 * just be hidden: they are removed. `http.WebSocket` and the other two are then undefined in this
 * process; the globals of the same names (the same classes) stay, loaded when first used, and
 * nothing in this project uses either (it serves and opens WebSockets with `ws`).
 *
 * It must run before any module that imports `node:http` is linked: a builtin's ES namespace is
 * built when the import graph is loaded, before any of the graph's code runs. So the entry point
 * (bin/kube-log-enricher.js) imports this module first and the CLI with a dynamic import after it.
 * This module imports nothing that imports `node:http`. test/boot/http-exports.test.ts checks the
 * effect on the real command, so a Node release that changes the mechanism is noticed.
 */
import { createRequire } from 'node:module';

/** The exports of `node:http` that load the undici bundle when read. */
export const UNDICI_BACKED_HTTP_EXPORTS = ['WebSocket', 'CloseEvent', 'MessageEvent'] as const;

const http = createRequire(import.meta.url)('node:http') as Record<string, unknown>;
for (const name of UNDICI_BACKED_HTTP_EXPORTS) {
  // Only a lazy getter not read yet: a value already there cost its load already.
  const property = Object.getOwnPropertyDescriptor(http, name);
  if (property?.get !== undefined && property.configurable === true) Reflect.deleteProperty(http, name);
}
