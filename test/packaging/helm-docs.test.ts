// The `helm install` commands the docs give (README, docs/integrations.md), taken from the
// documents and applied as Helm would: --set values coalesced into the chart's defaults, checked
// against values.schema.json, rendered; and the addresses the docs tell the shipper to use are
// the ones the rendered Service answers on. The docs cannot drift from the chart.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';
import { findObject, loadChart, mergeValues, release, renderChart, repoRoot } from './chart.ts';
import type { Json, JsonObject } from './chart.ts';

const chart = loadChart();
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(chart.schema);

interface HelmInstall { release: string; namespace: string | undefined; sets: JsonObject }

/** A --set value as Helm types it: true/false, integers and null; anything else is a string. */
function setValue(text: string): Json {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (/^-?[0-9]+$/.test(text)) return Number(text);
  return text;
}

/** `a.b.c=v` as the nested map {a: {b: {c: v}}}. */
function setToValues(assignment: string): JsonObject {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new Error(`--set ${assignment}: expected key=value`);
  const keys = assignment.slice(0, eq).split('.');
  let node: Json = setValue(assignment.slice(eq + 1));
  for (const key of keys.reverse()) node = { [key]: node };
  return node as JsonObject;
}

/** Every `helm install` command in the ```sh blocks of a Markdown text. */
function helmInstalls(markdown: string): HelmInstall[] {
  const installs: HelmInstall[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = (block[1] ?? '').replace(/\\\n/g, ' ');
    for (const line of joined.split('\n')) {
      const words = line.trim().split(/\s+/);
      if (words[0] !== 'helm' || words[1] !== 'install') continue;
      let sets: JsonObject = {};
      let namespace: string | undefined;
      for (let i = 2; i < words.length; i++) {
        if (words[i] === '--set') sets = mergeValues(sets, setToValues(words[++i] ?? ''));
        else if (words[i] === '--namespace' || words[i] === '-n') namespace = words[++i];
      }
      installs.push({ release: words[2] ?? '', namespace, sets });
    }
  }
  return installs;
}

const integrations = readFileSync(join(repoRoot, 'docs', 'integrations.md'), 'utf8');
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

t.test('the --set reader types values as Helm does', async (t) => {
  t.same(setToValues('a.b=1'), { a: { b: 1 } });
  t.same(setToValues('auth.enabled=true'), { auth: { enabled: true } });
  t.same(setToValues('config.source.sink=http://x:8081/?a=b'), { config: { source: { sink: 'http://x:8081/?a=b' } } }, 'only the first = splits');
  t.throws(() => setToValues('mode'), /expected key=value/);
  t.same(helmInstalls('```sh\nhelm install r ./c -n ns \\\n  --set mode=serve\n```\n'), [{ release: 'r', namespace: 'ns', sets: { mode: 'serve' } }]);
});

t.test('every helm install of the README and docs/integrations.md validates and renders', async (t) => {
  const installs = [...helmInstalls(readme), ...helmInstalls(integrations)];
  t.ok(installs.length >= 2, `${installs.length} commands`);
  for (const install of installs) {
    const values = mergeValues(chart.values, install.sets);
    t.ok(validate(values), `${JSON.stringify(install.sets)}: schema${validate.errors ? ` ${JSON.stringify(validate.errors)}` : ''}`);
    t.doesNotThrow(() => renderChart(chart, install.sets), `${JSON.stringify(install.sets)}: renders`);
    t.equal(install.release, release.Name, 'the release name the tests render with');
    t.equal(install.namespace, release.Namespace, 'the namespace the tests render with');
  }
});

t.test('docs/integrations.md deploys serve with the chart, reachable where the page says', async (t) => {
  const serve = helmInstalls(integrations).find((i) => i.sets.mode === 'serve');
  if (serve === undefined) throw new Error('docs/integrations.md has no `helm install ... --set mode=serve`');
  const rendered = renderChart(chart, serve.sets);
  const config = parseYaml(String((findObject(rendered, 'ConfigMap')?.data as JsonObject)['config.yaml'])) as JsonObject;
  const parsed = parseConfig(config);
  t.ok(parsed.ok, 'the ConfigMap is a valid service config');
  const sink = (serve.sets.config as { source?: { sink?: string } } | undefined)?.source?.sink;
  t.match(sink, /^https?:\/\//, 'the command sets config.source.sink to the shipper\'s HTTP input');
  if (parsed.ok) t.equal(parsed.config.source.sink, sink, '/v1/forward delivers there');

  // The Vector recipe's input names, which the page says the command uses.
  const vectorRecipe = /<!-- recipe: vector\/kube-log-enricher\.yaml -->\n```yaml\n([\s\S]*?)```/.exec(integrations)?.[1] ?? '';
  const recipeInput = ((parseYaml(vectorRecipe) as { enrichment?: { input?: JsonObject } }).enrichment?.input) ?? {};
  t.ok(Object.keys(recipeInput).length > 0, 'the Vector recipe declares its input fields');
  for (const [field, name] of Object.entries(recipeInput)) {
    t.equal(parsed.ok ? (parsed.config.enrichment.input as Record<string, unknown>)[field] : undefined, name, `enrichment.input.${field}: ${String(name)}, as in the Vector recipe`);
  }

  const service = findObject(rendered, 'Service');
  const spec = service?.spec as { ports: { port: number }[]; internalTrafficPolicy: string } | undefined;
  const address = `http://${service?.metadata.name}.${release.Namespace}.svc:${spec?.ports[0]?.port}/v1/forward`;
  t.ok(integrations.includes(address), `the page gives the Service address ${address}`);
  t.equal(spec?.internalTrafficPolicy, 'Local', 'node-local, as the page says');

  const hostPort = /--set api\.hostPort=([0-9]+)/.exec(integrations)?.[1];
  t.ok(hostPort, 'the page shows the hostPort option');
  const published = renderChart(chart, mergeValues(serve.sets, { api: { hostPort: Number(hostPort) } }));
  const ports = ((findObject(published, 'DaemonSet')?.spec as { template: { spec: { containers: { ports?: { hostPort?: number }[] }[] } } }).template.spec.containers[0]?.ports) ?? [];
  t.equal(ports[0]?.hostPort, Number(hostPort), 'api.hostPort publishes the port on the node');
  t.ok(integrations.includes(`http://\${HOST_IP}:${hostPort}/v1/forward`), 'and the page gives that address');
});
