/**
 * The entry point's start-up trims (src/boot/): checked on the real command in a fresh process,
 * with a module hook that records what was loaded. Should a Node or zod release change what
 * either relies on, these fail, rather than the trim silently stopping to work.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** src/<path>.ts as a URL (the tests run the sources; dist/ is built for the image and benchmarks only). */
const source = (path: string): string => pathToFileURL(join(root, 'src', `${path}.ts`)).href;
/**
 * The entry point's own text, bin/kube-log-enricher.js, with its `../dist/X.js` imports pointed at
 * src/X.ts: the same steps in the same order, on the sources.
 */
const bin = join(t.testdir(), 'kube-log-enricher.mjs');
writeFileSync(bin, readFileSync(join(root, 'bin', 'kube-log-enricher.js'), 'utf8').replace(/'\.\.\/dist\/([^']+)\.js'/g, (_, path: string) => JSON.stringify(source(path))));

interface Loaded {
  /** Node's bundled undici (internal/deps/undici/undici) was loaded. */
  undici: boolean;
  /** zod locale modules loaded (file names). */
  locales: string[];
  httpWebSocket: string;
  globalWebSocket: string;
}

/** Runs node with a recorder of loaded modules, then `args` (the bin and its arguments, by default). */
function run(args: string[]): { loaded: Loaded; stdout: string } {
  const recorder = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    process.on('exit', () => {
      const undici = process.moduleLoadList.some((m) => m.includes('internal/deps/undici/undici'));
      const http = process.getBuiltinModule('node:http');
      process.stderr.write('\\nRESULT ' + JSON.stringify({
        undici,
        locales: loaded.filter((u) => u.includes('/zod/v4/locales/')).map((u) => u.slice(u.lastIndexOf('/') + 1)),
        httpWebSocket: typeof http.WebSocket,
        globalWebSocket: typeof globalThis.WebSocket,
      }) + '\\n');
    });`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(recorder)}`, ...args], { cwd: root, encoding: 'utf8' });
  const line = r.stderr.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || line === undefined) throw new Error(`node ${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`);
  return { loaded: JSON.parse(line.slice('RESULT '.length)) as Loaded, stdout: r.stdout };
}

t.test('the entry point imports what it imports from dist/ (the rewrite above saw every import)', async (t) => {
  const text = readFileSync(bin, 'utf8');
  t.notMatch(text, /'\.\.\/dist\//, 'no import left pointing at dist/');
  t.match(text, /src\/boot\/http-exports\.ts/);
  t.match(text, /src\/cli\/main\.ts/);
});

t.test('the command loads neither Node\'s bundled undici nor zod\'s 64 locales, and still works', async (t) => {
  const { loaded, stdout } = run([bin, '--version']);
  t.match(stdout, /^\d+\.\d+\.\d+/, 'the CLI ran');
  t.equal(loaded.undici, false, 'internal/deps/undici/undici not loaded');
  t.same(loaded.locales, ['en.js'], 'only the English locale of zod');
  t.equal(loaded.httpWebSocket, 'undefined', 'http.WebSocket removed (see src/boot/http-exports.ts)');
  t.equal(loaded.globalWebSocket, 'function', 'the global WebSocket is still there');
});

t.test('the same graph without the trims does load them: the checks above can see what they check', async (t) => {
  // Loading the CLI module directly, as the entry point did before src/boot/ existed.
  const main = source('cli/main');
  const { loaded, stdout } = run(['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(['--version']);`]);
  t.match(stdout, /^\d+\.\d+\.\d+/, 'the CLI ran');
  t.equal(loaded.undici, true, 'an ES import of node:http loads the bundled undici');
  t.ok(loaded.locales.length > 50, `${loaded.locales.length} zod locales loaded`);
});

t.test('zod, loaded through the trim, validates and reports errors in English', async (t) => {
  const script = `
    const { importSlim } = await import(${JSON.stringify(source('boot/slim-imports'))});
    const { z } = await importSlim(() => import('zod'));
    const r = z.object({ port: z.number().int() }).safeParse({ port: 'x' });
    console.log(JSON.stringify({ ok: r.success, message: r.error?.issues[0]?.message, en: typeof z.locales.en, fr: typeof z.locales.fr }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  t.equal(out.ok, false);
  t.match(String(out.message), /expected number, received string/i, 'the English message');
  t.equal(out.en, 'function', 'z.locales.en is there');
  t.equal(out.fr, 'undefined', 'the other languages are not');
});
