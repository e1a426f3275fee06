/**
 * Kubernetes label selectors as kubectl takes them: equality-based (`app=cart`, `tier!=db`,
 * `app==cart`) and set-based (`env in (prod,staging)`, `env notin (dev)`, `team`, `!canary`),
 * comma-separated, all of which must hold. An empty selector matches everything.
 */
import type { Labels } from '../store/types.ts';

export type LabelOperator = 'exists' | 'doesNotExist' | 'equals' | 'notEquals' | 'in' | 'notIn';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: readonly string[];
}

export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly LabelRequirement[];
}

export type LabelSelectorResult = { ok: true; selector: LabelSelector } | { ok: false; error: string };

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SET_REQUIREMENT = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY_REQUIREMENT = /^([^\s=!]+)\s*(==|!=|=)\s*(.*)$/;

function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}": the prefix must be a DNS subdomain (lowercase, at most 253 characters)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `label key "${key}": the name must be 1-63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return `label value "${value}": at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitRequirements(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') {
      if (++depth > 1) return undefined;
    } else if (c === ')') {
      if (--depth < 0) return undefined;
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(text.slice(start));
  return parts;
}

function parseRequirement(raw: string): LabelRequirement | string {
  const text = raw.trim();
  if (text.length === 0) return 'empty requirement (a stray comma?)';
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    return keyProblem(key) ?? { key, operator: 'doesNotExist', values: [] };
  }
  const set = SET_REQUIREMENT.exec(text);
  if (set !== null) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    if (list.trim().length === 0) return `"${text}": the value set of ${op} must not be empty`;
    const problem = keyProblem(key) ?? values.map(valueProblem).find((p) => p !== undefined);
    return problem ?? { key, operator: op === 'in' ? 'in' : 'notIn', values };
  }
  const equality = EQUALITY_REQUIREMENT.exec(text);
  if (equality !== null) {
    const [, key = '', op, rawValue = ''] = equality;
    const value = rawValue.trim();
    if (/[\s=!(),]/.test(value)) return `"${text}": cannot parse the value "${value}"`;
    const problem = keyProblem(key) ?? valueProblem(value);
    return problem ?? { key, operator: op === '!=' ? 'notEquals' : 'equals', values: [value] };
  }
  if (/[<>]/.test(text)) return `"${text}": the operators < and > are not supported here`;
  if (/^\S+$/.test(text) && !/[=!()]/.test(text)) return keyProblem(text) ?? { key: text, operator: 'exists', values: [] };
  return `cannot parse "${text}": expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)`;
}

export function parseLabelSelector(text: string): LabelSelectorResult {
  if (text.trim().length === 0) return { ok: true, selector: { text, requirements: [] } };
  const parts = splitRequirements(text);
  if (parts === undefined) return { ok: false, error: `unbalanced parentheses in "${text}"` };
  const requirements: LabelRequirement[] = [];
  for (const part of parts) {
    const parsed = parseRequirement(part);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    requirements.push(parsed);
  }
  return { ok: true, selector: { text, requirements } };
}

/** Like Kubernetes: `!=` and `notin` also match objects that lack the key. */
export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  for (const r of selector.requirements) {
    const has = Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.operator) {
      case 'exists':
        if (!has) return false;
        break;
      case 'doesNotExist':
        if (has) return false;
        break;
      case 'equals':
      case 'in':
        if (!has || !r.values.includes(value!)) return false;
        break;
      case 'notEquals':
      case 'notIn':
        if (has && r.values.includes(value!)) return false;
        break;
    }
  }
  return true;
}
