/**
 * src/kube/client-node.ts loads KubeConfig and Watch without the client's generated API index:
 * checked in a fresh process (what it loads, what it costs), and against the client's own source
 * (every name KubeConfig's module takes from that index is provided).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { GENERATED_IMPORTS_OF_CONFIG } from '../../src/kube/client-node.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const packageDir = dirname(createRequire(join(root, 'package.json')).resolve('@kubernetes/client-node/package.json'));

t.test("every name KubeConfig's module imports from the generated index is provided, from where the index takes it", async (t) => {
  const source = readFileSync(join(packageDir, 'dist', 'config.js'), 'utf8');
  const imports = [...source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/g)];
  t.equal(imports.length, 1, 'one import of ./gen/index.js');
  const names = imports[0]![1]!
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  t.same(names.slice().sort(), Object.keys(GENERATED_IMPORTS_OF_CONFIG).sort());
  const index = readFileSync(join(packageDir, 'dist', 'gen', 'index.js'), 'utf8');
  for (const [name, module] of Object.entries(GENERATED_IMPORTS_OF_CONFIG)) {
    const file = module.replace('@kubernetes/client-node/dist/gen/', './');
    const reexport = new RegExp(`export (\\*|\\{[^}]*\\b${name}\\b[^}]*\\}) from "${file.replace('.', '\\.')}"`);
    t.match(index, reexport, `the index re-exports ${name} from ${file}`);
    const own = readFileSync(join(packageDir, 'dist', 'gen', file), 'utf8');
    t.match(own, new RegExp(`export (class|function|const) ${name}\\b`), `${file} defines ${name}`);
  }
});

t.test('a fresh process: the generated index is never loaded, the classes are the client\'s own, and start-up is lighter', async (t) => {
  // Records every module URL loaded, then loads src/kube as the product does.
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    const before = process.memoryUsage().rss;
    const kube = await import(${JSON.stringify(join(root, 'src', 'kube', 'index.ts'))});
    const after = process.memoryUsage().rss;
    const loadedByKube = loaded.slice();
    const kc = new kube.KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const opts = {};
    await kc.applyToHTTPSOptions(opts);
    const socksLoaded = loaded.some((u) => u.includes('/node_modules/socks/') || u.includes('/node_modules/socks-proxy-agent/'));
    const viaSocks = new kube.KubeConfig();
    viaSocks.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', proxyUrl: 'socks5://127.0.0.1:1080' }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const socksOpts = {};
    await viaSocks.applyToHTTPSOptions(socksOpts);
    const { SocksProxyAgent } = await import('socks-proxy-agent');
    const full = await import('@kubernetes/client-node');
    console.log(JSON.stringify({
      genIndexLoaded: loadedByKube.some((u) => u.endsWith('/dist/gen/index.js')),
      apisLoaded: loadedByKube.filter((u) => u.includes('/dist/gen/apis/')).length,
      fullLoadsIt: loaded.some((u) => u.endsWith('/dist/gen/index.js')),
      server: kc.getCurrentCluster().server,
      authorization: opts.headers?.Authorization === 'Bearer t',
      sameKubeConfig: kube.KubeConfig === full.KubeConfig,
      rssMiB: Math.round((after - before) / 1048576),
      socksLoaded,
      socksAgent: socksOpts.agent instanceof SocksProxyAgent && socksOpts.agent.proxy.port === 1080,
    }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  t.equal(result.genIndexLoaded, false, 'gen/index.js not loaded by src/kube');
  t.equal(result.fullLoadsIt, true, 'while the package root does load it (the check can see it)');
  t.equal(result.apisLoaded, 0, 'no generated API class loaded');
  t.equal(result.server, 'https://127.0.0.1:6443');
  t.equal(result.authorization, true, 'credentials applied');
  t.equal(result.sameKubeConfig, true, 'the very class the package exports');
  t.equal(result.socksLoaded, false, 'socks and socks-proxy-agent not loaded until a SOCKS proxy is used (src/kube/lazy-socks.ts)');
  t.equal(result.socksAgent, true, 'a socks5:// proxy-url still gets the real SocksProxyAgent');
  t.ok(typeof result.rssMiB === 'number', `loading src/kube took ${String(result.rssMiB)} MiB of RSS`);
});
