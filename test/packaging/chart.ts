// Loads the Helm chart from the repo and renders it with test/packaging/gotemplate.ts,
// the way `helm template` would: chart defaults coalesced with the given values, every
// non-partial template rendered, YAML documents parsed strictly (a duplicate key or a
// bad indent fails the test, as it would fail the API server).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseTemplates, renderTemplate } from './gotemplate.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const chartDir = join(repoRoot, 'helm', 'kube-log-enricher');
const chartName = 'kube-log-enricher';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Chart {
  meta: JsonObject;
  values: JsonObject;
  schema: JsonObject;
  /** template file name (e.g. "daemonset.yaml") -> text */
  templates: Record<string, string>;
}

export function loadChart(): Chart {
  const templateDir = join(chartDir, 'templates');
  const templates: Record<string, string> = {};
  for (const file of readdirSync(templateDir)) templates[file] = readFileSync(join(templateDir, file), 'utf8');
  return {
    meta: parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as JsonObject,
    values: parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as JsonObject,
    schema: JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as JsonObject,
    templates,
  };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's coalescing: maps merge deeply, everything else replaces, null deletes a key. */
export function mergeValues(base: JsonObject, override: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(current)) out[key] = mergeValues(current, value);
    else out[key] = value;
  }
  return out;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: Json | undefined;
}

export interface Rendered {
  values: JsonObject;
  /** every rendered object, by template file */
  byFile: Record<string, Manifest[]>;
  all: Manifest[];
  notes: string;
}

export const release = { Name: 'kle', Namespace: 'logging', Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 };

export function renderChart(chart: Chart, overrides: JsonObject = {}): Rendered {
  const values = mergeValues(chart.values, overrides);
  const files: Record<string, string> = {};
  for (const [file, text] of Object.entries(chart.templates)) files[`${chartName}/templates/${file}`] = text;
  const set = parseTemplates(files);
  const root = {
    Values: values,
    Chart: { Name: chart.meta.name, Version: chart.meta.version, AppVersion: chart.meta.appVersion },
    Release: release,
    Template: { BasePath: `${chartName}/templates`, Name: '' },
  };
  const byFile: Record<string, Manifest[]> = {};
  const all: Manifest[] = [];
  let notes = '';
  for (const file of Object.keys(chart.templates).sort()) {
    if (file.startsWith('_')) continue;
    const text = renderTemplate(set, `${chartName}/templates/${file}`, { ...root, Template: { ...root.Template, Name: file } });
    if (file === 'NOTES.txt') {
      notes = text;
      continue;
    }
    // Helm prints a YAML number (a float64) as Go does: 1000680000 becomes 1.00068e+09,
    // which the API server refuses for an integer field. Templates must wrap it in `int`.
    const exponent = /(?<![\w.])\d+(?:\.\d+)?e[+-]\d{2,}\b/.exec(text);
    if (exponent !== null) throw new Error(`${file} renders the number ${exponent[0]} in exponent form: print it with int`);
    byFile[file] = [];
    for (const doc of parseAllDocuments(text, { uniqueKeys: true, strict: true })) {
      if (doc.errors.length > 0) {
        throw new Error(`${file} renders invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}\n${text}`);
      }
      const object = doc.toJS() as Manifest | null;
      if (object === null) continue;
      byFile[file].push(object);
      all.push(object);
    }
  }
  return { values, byFile, all, notes };
}

export function findObject(rendered: Rendered, kind: string): Manifest | undefined {
  return rendered.all.find((m) => m.kind === kind);
}

/** The option combinations that change the pod: rendered by the tests, and by the real helm binary (helm-real.test.ts). */
export const CHART_SCENARIOS: readonly { name: string; values: JsonObject }[] = [
  { name: 'defaults', values: {} },
  { name: 'split mode', values: { mode: 'split' } },
  { name: 'auth with a chart-made Secret', values: { auth: { enabled: true, token: 's3cret' }, serviceMonitor: { enabled: true } } },
  { name: 'split mode with auth from an existing Secret', values: { mode: 'split', auth: { enabled: true, existingSecret: 'my-token', secretKey: 'api-token' } } },
  { name: 'root (CRI-O)', values: { securityContext: { runAsUser: 0, runAsGroup: 0 } } },
  { name: 'large UIDs (OpenShift ranges), large grace period', values: { securityContext: { runAsUser: 1000680000, runAsGroup: 1000680000, fsGroup: 1000680000 }, terminationGracePeriodSeconds: 1200000, api: { port: 10250 } } },
  { name: 'Docker runtime nodes', values: { hostPaths: { dockerContainers: { enabled: true } } } },
  { name: 'TLS, IPv6, priority class', values: { api: { listenHost: '::', port: 9443 }, service: { port: 443 }, priorityClassName: 'system-node-critical', config: { server: { tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' } } }, extraVolumes: [{ name: 'tls', secret: { secretName: 'kle-tls' } }], extraVolumeMounts: [{ name: 'tls', mountPath: '/tls', readOnly: true }] } },
  { name: 'no RBAC, no ServiceAccount, no Service', values: { rbac: { create: false }, serviceAccount: { create: false, name: 'existing' }, service: { enabled: false } } },
  { name: 'serve mode', values: { mode: 'serve', config: { source: { sink: 'http://vector.logging.svc:8081/' } } } },
  { name: 'serve mode on a hostPort, with auth, no Service', values: { mode: 'serve', api: { hostPort: 18080 }, auth: { enabled: true, token: 's3cret' }, service: { enabled: false } } },
  { name: 'pods from the kubelet', values: { podSource: 'kubelet' } },
  { name: 'split mode, pods from the kubelet through a CA', values: { mode: 'split', podSource: 'kubelet', config: { kubernetes: { kubelet: { caFile: '/kubelet-ca/ca.crt' } } } } },
];
