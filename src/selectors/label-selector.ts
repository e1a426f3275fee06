/**
 * Kubernetes label selectors in their string form (k8s.io/apimachinery labels.Parse, what kubectl
 * `-l` and the `labelSelector` query parameter take): equality-based (`app=cart`, `app==cart`,
 * `tier!=db`) and set-based (`env in (prod,staging)`, `env notin (dev)`, `team`, `!canary`),
 * comma-separated, all of which must hold. An empty selector matches everything.
 *
 * labels.Parse also takes `key>n` and `key<n` (integer comparisons); they are accepted only when
 * asked for, because the service's own filters have never offered them.
 */

export type Labels = Readonly<Record<string, string>>;

export type LabelOperator = 'exists' | 'doesNotExist' | 'equals' | 'notEquals' | 'in' | 'notIn' | 'greaterThan' | 'lessThan';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** One value for equals/notEquals and the comparisons (an integer there), one or more for in/notIn, none otherwise. */
  readonly values: readonly string[];
}

export interface LabelSelector {
  /** The text as given, for messages and logs. */
  readonly text: string;
  readonly requirements: readonly LabelRequirement[];
}

export type LabelSelectorErrorCode =
  /** Not a requirement at all: unbalanced parentheses, a stray comma, an unknown shape. */
  | 'syntax'
  /** `in ()` or `notin ()`. */
  | 'empty_set'
  /** Not a qualified name: `[prefix/]name`, the prefix a DNS subdomain, the name 1-63 characters. */
  | 'invalid_key'
  /** Not a label value: at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric. */
  | 'invalid_value'
  /** `<` or `>` where comparisons are not allowed. */
  | 'unsupported_operator'
  /** `<` or `>` with a value that is not an integer. */
  | 'not_an_integer';

export type LabelSelectorResult =
  | { ok: true; selector: LabelSelector }
  | { ok: false; code: LabelSelectorErrorCode; error: string };

export interface LabelSelectorOptions {
  /** Accept `key>n` and `key<n` as labels.Parse does (the simulated API server, /v1/stream); default false. */
  allowComparisons?: boolean | undefined;
}

interface RequirementError {
  code: LabelSelectorErrorCode;
  error: string;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SET_REQUIREMENT = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY_REQUIREMENT = /^([^\s=!]+)\s*(==|!=|=)\s*(.*)$/;
const COMPARISON_REQUIREMENT = /^([^\s!=<>(),]+)\s*(<|>)\s*(.*)$/;
const INTEGER = /^-?\d+$/;

function fail(code: LabelSelectorErrorCode, error: string): RequirementError {
  return { code, error };
}

function keyProblem(key: string): RequirementError | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return fail('invalid_key', `label key "${key}": the prefix must be a DNS subdomain (lowercase, at most 253 characters)`);
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return fail('invalid_key', `label key "${key}": the name must be 1-63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`);
  }
  return undefined;
}

function valueProblem(value: string): RequirementError | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return fail('invalid_value', `label value "${value}": at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`);
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

function parseComparison(text: string): LabelRequirement | RequirementError {
  const comparison = COMPARISON_REQUIREMENT.exec(text);
  if (comparison === null) {
    return fail('syntax', `cannot parse "${text}": expected key, !key, key=value, key!=value, key in (a,b), key notin (a,b), key>n or key<n`);
  }
  const [, key = '', op, rawValue = ''] = comparison;
  const value = rawValue.trim();
  // labels.Parse compares as integers; a label value that is not one never matches.
  if (!INTEGER.test(value)) return fail('not_an_integer', `"${text}": the value of ${op} must be an integer`);
  return keyProblem(key) ?? { key, operator: op === '>' ? 'greaterThan' : 'lessThan', values: [value] };
}

function parseRequirement(raw: string, allowComparisons: boolean): LabelRequirement | RequirementError {
  const text = raw.trim();
  if (text.length === 0) return fail('syntax', 'empty requirement (a stray comma?)');
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    return keyProblem(key) ?? { key, operator: 'doesNotExist', values: [] };
  }
  const set = SET_REQUIREMENT.exec(text);
  if (set !== null) {
    const [, key = '', op, list = ''] = set;
    if (list.trim().length === 0) return fail('empty_set', `"${text}": the value set of ${op} must not be empty`);
    const values = list.split(',').map((v) => v.trim());
    const problem = keyProblem(key) ?? values.map(valueProblem).find((p) => p !== undefined);
    return problem ?? { key, operator: op === 'in' ? 'in' : 'notIn', values };
  }
  const equality = EQUALITY_REQUIREMENT.exec(text);
  if (equality !== null) {
    const [, key = '', op, rawValue = ''] = equality;
    const value = rawValue.trim();
    if (/[\s=!(),]/.test(value)) return fail('syntax', `"${text}": cannot parse the value "${value}"`);
    const problem = keyProblem(key) ?? valueProblem(value);
    return problem ?? { key, operator: op === '!=' ? 'notEquals' : 'equals', values: [value] };
  }
  if (/[<>]/.test(text)) {
    if (allowComparisons) return parseComparison(text);
    return fail('unsupported_operator', `"${text}": the operators < and > are not supported here`);
  }
  if (/^\S+$/.test(text) && !/[=!()]/.test(text)) return keyProblem(text) ?? { key: text, operator: 'exists', values: [] };
  return fail('syntax', `cannot parse "${text}": expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)`);
}

/** Parses a selector; the error names the requirement and what is wrong with it. */
export function parseLabelSelector(text: string, options: LabelSelectorOptions = {}): LabelSelectorResult {
  if (text.trim().length === 0) return { ok: true, selector: { text, requirements: [] } };
  const parts = splitRequirements(text);
  if (parts === undefined) return { ok: false, code: 'syntax', error: `unbalanced parentheses in "${text}"` };
  const allowComparisons = options.allowComparisons === true;
  const requirements: LabelRequirement[] = [];
  for (const part of parts) {
    const parsed = parseRequirement(part, allowComparisons);
    if ('error' in parsed) return { ok: false, code: parsed.code, error: parsed.error };
    requirements.push(parsed);
  }
  return { ok: true, selector: { text, requirements } };
}

/**
 * Like Kubernetes: `!=` and `notin` also match objects that lack the key; only own properties are
 * labels (a selector on `constructor` must not see Object.prototype). No labels at all is `{}`.
 */
export function labelSelectorMatches(selector: LabelSelector, labels: Labels | undefined): boolean {
  for (const r of selector.requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
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
      case 'greaterThan':
      case 'lessThan': {
        if (value === undefined || !INTEGER.test(value)) return false;
        const actual = Number(value);
        const bound = Number(r.values[0]);
        if (r.operator === 'greaterThan' ? !(actual > bound) : !(actual < bound)) return false;
        break;
      }
    }
  }
  return true;
}
