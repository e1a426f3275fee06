/**
 * The `logs.kube-log-enricher.io/multiline` pod annotation (its name is
 * enrichment.multiline.annotation): `<annotation>-<container>` for one container, else
 * `<annotation>` for every container of the pod. Read when a pod's metadata is built, not per
 * line; each distinct value is compiled once, and a value that cannot be used is reported once
 * (the caller logs it) and ignored.
 */
import { isRuleError, parseMultilineRule, type MultilineRule } from './rules.ts';

/** Distinct annotation values remembered; past it the cache starts over. */
const MAX_VALUES = 256;

/**
 * Rule values (`java`, a regex...) compiled once each: a node has a handful of distinct ones. The
 * service's annotations and the `source`'s answers from POST /v1/views both compile through one.
 */
export class MultilineRuleCache {
  readonly #compiled = new Map<string, MultilineRule | string>();

  /** The rule of `value`, or the reason it cannot be used (a string); `fresh` when this is its first compilation. */
  compile(value: string): { rule: MultilineRule | string; fresh: boolean } {
    const known = this.#compiled.get(value);
    if (known !== undefined) return { rule: known, fresh: false };
    const parsed = parseMultilineRule(value);
    if (this.#compiled.size >= MAX_VALUES) this.#compiled.clear();
    const rule = isRuleError(parsed) ? parsed.error : parsed;
    this.#compiled.set(value, rule);
    return { rule, fresh: true };
  }
}

export interface InvalidMultilineAnnotation {
  annotation: string;
  value: string;
  error: string;
}

export class MultilineAnnotations {
  readonly annotation: string;
  readonly #rules = new MultilineRuleCache();
  /** Called once per distinct unusable value. */
  readonly #onInvalid: (invalid: InvalidMultilineAnnotation) => void;
  /** Called each time a pod's metadata carries an unusable value (a counter). */
  readonly #onIgnored: () => void;

  constructor(annotation: string, onInvalid: (invalid: InvalidMultilineAnnotation) => void, onIgnored: () => void = () => undefined) {
    this.annotation = annotation;
    this.#onInvalid = onInvalid;
    this.#onIgnored = onIgnored;
  }

  /** The rule of `container` of a pod with these annotations, or undefined (none, or unusable). */
  ruleFor(annotations: Readonly<Record<string, string>>, container: string | undefined): MultilineRule | undefined {
    const key = container === undefined || annotations[`${this.annotation}-${container}`] === undefined ? this.annotation : `${this.annotation}-${container}`;
    const value = annotations[key];
    if (value === undefined) return undefined;
    const { rule, fresh } = this.#rules.compile(value);
    if (fresh && typeof rule === 'string') this.#onInvalid({ annotation: key, value, error: rule });
    if (typeof rule === 'string') {
      this.#onIgnored();
      return undefined;
    }
    return rule;
  }
}
