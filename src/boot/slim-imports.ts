/**
 * Imports of third-party modules that the CLI replaces with lighter ones while it loads.
 *
 * zod's main module re-exports all of its 64 error-message locales (`z.locales`), ~340 KB of
 * source read into every process (1.2 MiB of heap), though zod itself uses only English and this
 * project never switches. While the CLI's modules load, that re-export is handed a module with
 * `en` only; `z.locales.en` still works, the other languages are not there.
 *
 * A resolve hook is process-wide, so it is registered only around the CLI's import (see
 * bin/kube-log-enricher.js) and removed after it: a module the CLI imports later, on demand, is
 * resolved as usual. test/boot/slim-imports.test.ts checks it on the real command.
 */
import { registerHooks } from 'node:module';

/** zod's modules that re-export `../locales/index.js` (as `z.locales` and `z.core.locales`). */
const LOCALE_INDEX_PARENTS = [/\/zod\/v4\/(classic|mini)\/external\.js$/, /\/zod\/v4\/core\/index\.js$/];

function englishOnly(parentURL: string): string {
  const en = new URL('../locales/en.js', parentURL).href;
  return `data:text/javascript,${encodeURIComponent(`export { default as en } from ${JSON.stringify(en)};`)}`;
}

/** Loads the module with the replacements above in effect, and removes them after. */
export async function importSlim<T>(load: () => Promise<T>): Promise<T> {
  const hooks = registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL;
      if (specifier === '../locales/index.js' && parent !== undefined && LOCALE_INDEX_PARENTS.some((p) => p.test(parent))) return { url: englishOnly(parent), shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
  try {
    return await load();
  } finally {
    hooks.deregister();
  }
}
