/** docs/metrics.md lists exactly the metrics the service registers, with their types and labels. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/index.ts';

interface Row {
  type: string;
  labels: string[];
}

function documented(): Map<string, Row> {
  const text = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const rows = new Map<string, Row>();
  for (const match of text.matchAll(/^\| `(kube_log_enricher_[a-z_]+)` \| (\w+) \|([^|]*)\|/gm)) {
    const labels = [...match[3]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
    rows.set(match[1]!, { type: match[2]!, labels });
  }
  return rows;
}

t.test('every registered metric has a row with its type and labels, and every row a metric', async (t) => {
  const registry = new Registry();
  createMetrics(registry, { processMetrics: false });
  const rows = documented();
  const registered = await registry.getMetricsAsJSON();
  for (const metric of registered) {
    const row = rows.get(metric.name);
    if (row === undefined) {
      t.fail(`${metric.name} is not in docs/metrics.md: add a row (type ${metric.type})`);
      continue;
    }
    const labels = (registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames;
    t.same(row, { type: metric.type, labels: [...labels] }, `${metric.name}: type and labels`);
  }
  const names = new Set(registered.map((m) => m.name));
  t.same([...rows.keys()].filter((name) => !names.has(name)), [], 'no row for a metric that does not exist');
});
