/**
 * Field selectors as the API server parses them (k8s.io/apimachinery fields.ParseSelector), and
 * the selection of a list or watch request: pure functions, errors as values so the server can
 * answer 400. Label selectors are src/selectors.
 */
import { labelSelectorMatches, parseLabelSelector } from '../selectors/index.ts';
import type { LabelSelector } from '../selectors/index.ts';
import type { ResourceRoute } from './routes.ts';
import type { KubeObject, SimKind } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export type FieldSelector = readonly FieldRequirement[];

/** The field labels the real server supports per kind (pkg/registry/core/*\/strategy.go). */
const FIELD_GETTERS: Record<SimKind, Record<string, (obj: KubeObject) => string>> = {
  pods: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    'spec.nodeName': (o) => str(field(o, 'spec', 'nodeName')),
    'spec.restartPolicy': (o) => str(field(o, 'spec', 'restartPolicy')),
    'spec.schedulerName': (o) => str(field(o, 'spec', 'schedulerName')),
    'spec.serviceAccountName': (o) => str(field(o, 'spec', 'serviceAccountName')),
    'spec.hostNetwork': (o) => String(field(o, 'spec', 'hostNetwork') === true),
    'status.phase': (o) => str(field(o, 'status', 'phase')),
    'status.podIP': (o) => str(field(o, 'status', 'podIP')),
    'status.nominatedNodeName': (o) => str(field(o, 'status', 'nominatedNodeName')),
  },
  namespaces: {
    'metadata.name': (o) => o.metadata.name,
    'status.phase': (o) => str(field(o, 'status', 'phase')),
  },
  nodes: {
    'metadata.name': (o) => o.metadata.name,
    'spec.unschedulable': (o) => String(field(o, 'spec', 'unschedulable') === true),
  },
};

function field(obj: KubeObject, section: string, name: string): unknown {
  const part = obj[section];
  return part !== null && typeof part === 'object' ? (part as Record<string, unknown>)[name] : undefined;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Splits on an unescaped separator; `\,` `\=` `\!` and `\\` are escapes, as in fields.ParseSelector. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[i + 1];
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(value: string): Parsed<string> {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') {
      const next = value[i + 1];
      if (next === undefined || !'\\,=!'.includes(next)) {
        return { ok: false, error: `invalid field selector value "${value}": invalid escape sequence` };
      }
      out += next;
      i++;
    } else if (c === ',' || c === '=') {
      return { ok: false, error: `invalid field selector value "${value}": unescaped '${c}'` };
    } else {
      out += c;
    }
  }
  return { ok: true, value: out };
}

export function parseFieldSelector(text: string | undefined, kind: SimKind): Parsed<FieldSelector> {
  if (text === undefined || text.trim() === '') return { ok: true, value: [] };
  const requirements: FieldRequirement[] = [];
  for (const raw of splitUnescaped(text, ',')) {
    const part = raw.trim();
    const match = /^([^=!\s]+)\s*(==|=|!=)(.*)$/.exec(part);
    if (!match) {
      return { ok: false, error: `invalid selector: '${part}'; can't understand '${part}' (expected field=value, field==value or field!=value)` };
    }
    const name = match[1] ?? '';
    if (!(name in FIELD_GETTERS[kind])) {
      return { ok: false, error: `field label not supported: ${name}` };
    }
    const value = unescapeFieldValue(match[3] ?? '');
    if (!value.ok) return value;
    requirements.push({ field: name, operator: match[2] === '!=' ? '!=' : '=', value: value.value });
  }
  return { ok: true, value: requirements };
}

export function matchesFields(selector: FieldSelector, kind: SimKind, obj: KubeObject): boolean {
  const getters = FIELD_GETTERS[kind];
  for (const { field: name, operator, value } of selector) {
    const getter = getters[name];
    const actual = getter ? getter(obj) : '';
    if (operator === '=' ? actual !== value : actual === value) return false;
  }
  return true;
}

/** What a list or watch request selects: one kind, maybe one namespace, label and field selectors. */
export interface Selection {
  kind: SimKind;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
}

export type SelectionResult = { ok: true; value: Selection } | { ok: false; field: 'labelSelector' | 'fieldSelector'; error: string };

/** The selection of a list or watch request; an error names the query parameter at fault. */
export function selectionOf(route: ResourceRoute, params: URLSearchParams): SelectionResult {
  // The real server's labels.Parse takes `key>n` and `key<n` too.
  const labels = parseLabelSelector(params.get('labelSelector') ?? '', { allowComparisons: true });
  if (!labels.ok) return { ok: false, field: 'labelSelector', error: labels.error };
  let fieldText = params.get('fieldSelector') ?? undefined;
  // A single-object path is a list/watch on metadata.name, as the real server does it.
  if (route.name !== undefined) fieldText = fieldText ? `${fieldText},metadata.name=${route.name}` : `metadata.name=${route.name}`;
  const fields = parseFieldSelector(fieldText, route.kind);
  if (!fields.ok) return { ok: false, field: 'fieldSelector', error: fields.error };
  return { ok: true, value: { kind: route.kind, namespace: route.namespace, labels: labels.selector, fields: fields.value } };
}

export function inSelection(selection: Selection, object: KubeObject): boolean {
  return (selection.namespace === undefined || object.metadata.namespace === selection.namespace)
    && labelSelectorMatches(selection.labels, object.metadata.labels)
    && matchesFields(selection.fields, selection.kind, object);
}
