/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery labels.Parse and
 * fields.ParseSelector): pure functions, errors as values so the server can answer 400.
 */
import type { KubeObject, SimKind } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type LabelOperator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** A parsed label selector; an empty one matches everything. */
export type LabelSelector = readonly LabelRequirement[];

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateKey(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `invalid label key "${key}": prefix part must be a DNS-1123 subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) {
    return `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`;
  }
  return undefined;
}

function validateValue(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_PART.test(value)) {
    return `invalid label value "${value}": must be 63 characters or less and must be empty or begin and end with an alphanumeric character with '-', '_', '.' or alphanumerics between`;
  }
  return undefined;
}

/** Splits on commas that are not inside a parenthesised set. */
function splitRequirements(text: string): Parsed<string[]> {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') {
      if (depth > 0) return { ok: false, error: `unable to parse requirement: nested '(' at position ${i}` };
      depth++;
    } else if (c === ')') {
      if (depth === 0) return { ok: false, error: `unable to parse requirement: unexpected ')' at position ${i}` };
      depth--;
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return { ok: false, error: "unable to parse requirement: missing ')'" };
  parts.push(text.slice(start));
  return { ok: true, value: parts };
}

const SET_REQUIREMENT = /^([^\s!=<>(),]+)\s+(in|notin)\s*\((.*)\)$/;
const BINARY_REQUIREMENT = /^([^\s!=<>(),]+)\s*(==|=|!=|<|>)\s*(.*)$/;
const KEY_ONLY = /^(!?)\s*([^\s!=<>(),]+)$/;

function parseRequirement(raw: string): Parsed<LabelRequirement> {
  const text = raw.trim();
  if (text === '') return { ok: false, error: 'unable to parse requirement: found empty requirement' };
  let key: string;
  let operator: LabelOperator;
  let values: string[];
  let match = SET_REQUIREMENT.exec(text);
  if (match) {
    key = match[1] ?? '';
    operator = match[2] === 'in' ? 'in' : 'notin';
    values = (match[3] ?? '').split(',').map((v) => v.trim());
    if (values.length === 1 && values[0] === '' && operator === 'in') {
      return { ok: false, error: `unable to parse requirement "${text}": for 'in' and 'notin' operators, values set can't be empty` };
    }
    if (values.length === 1 && values[0] === '') values = [];
  } else if ((match = BINARY_REQUIREMENT.exec(text))) {
    key = match[1] ?? '';
    const op = match[2];
    operator = op === '!=' ? '!=' : op === '<' ? 'lt' : op === '>' ? 'gt' : '=';
    values = [(match[3] ?? '').trim()];
    if (operator === 'gt' || operator === 'lt') {
      if (!/^-?\d+$/.test(values[0] ?? '')) {
        return { ok: false, error: `unable to parse requirement "${text}": for 'Gt', 'Lt' operators, the value must be an integer` };
      }
    }
  } else if ((match = KEY_ONLY.exec(text))) {
    key = match[2] ?? '';
    operator = match[1] === '!' ? '!' : 'exists';
    values = [];
  } else {
    return { ok: false, error: `unable to parse requirement "${text}": expected key, !key, key=value, key!=value, key in (v1,v2) or key notin (v1,v2)` };
  }
  const keyError = validateKey(key);
  if (keyError) return { ok: false, error: `unable to parse requirement: ${keyError}` };
  if (operator !== 'gt' && operator !== 'lt') {
    for (const value of values) {
      const valueError = validateValue(value);
      if (valueError) return { ok: false, error: `unable to parse requirement: ${valueError}` };
    }
  }
  return { ok: true, value: { key, operator, values } };
}

export function parseLabelSelector(text: string | undefined): Parsed<LabelSelector> {
  if (text === undefined || text.trim() === '') return { ok: true, value: [] };
  const split = splitRequirements(text);
  if (!split.ok) return split;
  const requirements: LabelRequirement[] = [];
  for (const part of split.value) {
    const parsed = parseRequirement(part);
    if (!parsed.ok) return parsed;
    requirements.push(parsed.value);
  }
  return { ok: true, value: requirements };
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const { key, operator, values } of selector) {
    const value = labels?.[key];
    switch (operator) {
      case 'exists':
        if (value === undefined) return false;
        break;
      case '!':
        if (value !== undefined) return false;
        break;
      case '=':
      case 'in':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case '!=':
      case 'notin':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        const actual = Number(value);
        const bound = Number(values[0]);
        if (operator === 'gt' ? !(actual > bound) : !(actual < bound)) return false;
        break;
      }
    }
  }
  return true;
}

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
