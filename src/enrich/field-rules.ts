/**
 * Which labels and annotations of a pod, its namespace and its node an enriched event carries, and
 * under which keys (docs/configuration.md, `enrichment.fields` and `enrichment.dedot`).
 *
 * Without rules, each group is in or out as a whole (the `enrichment.include` booleans). With
 * rules, a key is carried only when the first rule that matches it (same source, same kind, its
 * exact key or its pattern matching the whole key) includes it; under `as` when given (`$1`...
 * from the pattern's groups), else under its own name. Then `dedot` replaces the dots of the
 * carried keys. All of it runs when a file's metadata is rendered into its template (once per
 * pod version, not per line), and its result is kept per source map.
 */
import type { Labels } from '../store/types.ts';
import { EnrichConfigError } from './layout.ts';
import type { IncludeGroups } from './options.ts';

export type MetaSource = 'pod' | 'namespace' | 'node';
export type MetaKind = 'label' | 'annotation';

/** One `enrichment.fields` rule; exactly one of `key` and `keyPattern`. */
export interface FieldRule {
  from: MetaSource;
  kind: MetaKind;
  key?: string | undefined;
  keyPattern?: string | undefined;
  /** The carried key's name; with a pattern, `$1`... name its groups. Not with `exclude`. */
  as?: string | undefined;
  action: 'include' | 'exclude';
}

interface CompiledRule {
  key: string | undefined;
  pattern: RegExp | undefined;
  as: string | undefined;
  include: boolean;
}

/** Carries every key under its own name (the include booleans, with dedot). */
const EVERY_KEY: CompiledRule = { key: undefined, pattern: /^/, as: undefined, include: true };

const GROUPS: readonly (readonly [MetaSource, MetaKind, keyof IncludeGroups])[] = [
  ['pod', 'label', 'podLabels'],
  ['pod', 'annotation', 'podAnnotations'],
  ['namespace', 'label', 'namespaceLabels'],
  ['namespace', 'annotation', 'namespaceAnnotations'],
  ['node', 'label', 'nodeLabels'],
  ['node', 'annotation', 'nodeAnnotations'],
];

/** A rule's pattern, anchored to the whole key; a pattern that is not a regular expression is a configuration error. */
export function compileKeyPattern(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (err) {
    throw new EnrichConfigError('invalid_field_rule', `keyPattern "${pattern}" is not a regular expression: ${(err as Error).message}`);
  }
}

/** What is wrong with a rule, or undefined (the config schema and the enricher both ask). */
export function fieldRuleProblem(rule: FieldRule): { field: 'key' | 'keyPattern' | 'as'; message: string } | undefined {
  if ((rule.key === undefined) === (rule.keyPattern === undefined)) return { field: 'key', message: 'give exactly one of key and keyPattern' };
  if (rule.keyPattern !== undefined) {
    try {
      compileKeyPattern(rule.keyPattern);
    } catch (err) {
      return { field: 'keyPattern', message: (err as Error).message };
    }
  }
  if (rule.as !== undefined && rule.action === 'exclude') return { field: 'as', message: 'an exclude rule carries nothing to rename' };
  return undefined;
}

/** One label or annotation group: chooses, renames and dedots its keys, once per source map. */
class GroupFilter {
  readonly #rules: readonly CompiledRule[];
  readonly #dedot: string | undefined;
  readonly #done = new WeakMap<Labels, Labels>();

  constructor(rules: readonly CompiledRule[], dedot: string | undefined) {
    this.#rules = rules;
    this.#dedot = dedot;
  }

  apply(source: Labels): Labels {
    let out = this.#done.get(source);
    if (out === undefined) {
      out = this.#filter(source);
      this.#done.set(source, out);
    }
    return out;
  }

  #filter(source: Labels): Labels {
    const out: Record<string, string> = {};
    for (const key in source) {
      const name = this.#nameOf(key);
      if (name === undefined || name === '') continue;
      const carried = this.#dedot === undefined ? name : name.replaceAll('.', this.#dedot);
      // Two keys carried under one name: the first (in the object's order) keeps it.
      if (!(carried in out)) out[carried] = source[key]!;
    }
    return out;
  }

  /** The name `key` is carried under, or undefined when it is not carried. */
  #nameOf(key: string): string | undefined {
    for (const rule of this.#rules) {
      if (rule.key !== undefined) {
        if (rule.key !== key) continue;
        return rule.include ? (rule.as ?? key) : undefined;
      }
      if (!rule.pattern!.test(key)) continue;
      if (!rule.include) return undefined;
      return rule.as === undefined ? key : key.replace(rule.pattern!, rule.as);
    }
    return undefined;
  }
}

/** The label and annotation maps of every group as the output carries them. */
export class MetadataMaps {
  /** Per group (GROUPS order): its filter, undefined when the group is carried whole, null when not at all. */
  readonly #groups: (GroupFilter | undefined | null)[];

  constructor(include: IncludeGroups, rules: readonly FieldRule[], dedot: string | undefined) {
    for (const rule of rules) {
      const problem = fieldRuleProblem(rule);
      if (problem !== undefined) throw new EnrichConfigError('invalid_field_rule', `fields rule ${JSON.stringify(rule)}: ${problem.field}: ${problem.message}`);
    }
    this.#groups = GROUPS.map(([from, kind, flag]) => {
      if (rules.length === 0) {
        if (!include[flag]) return null;
        return dedot === undefined ? undefined : new GroupFilter([EVERY_KEY], dedot);
      }
      const mine = rules.filter((r) => r.from === from && r.kind === kind);
      if (!mine.some((r) => r.action === 'include')) return null;
      return new GroupFilter(
        mine.map((r) => ({ key: r.key, pattern: r.keyPattern === undefined ? undefined : compileKeyPattern(r.keyPattern), as: r.as, include: r.action === 'include' })),
        dedot,
      );
    });
  }

  /** Whether any label or annotation of `from` can be carried. */
  shows(from: MetaSource): boolean {
    return GROUPS.some(([f], i) => f === from && this.#groups[i] !== null);
  }

  /** The map of one group as carried, or undefined when the group is not carried (or there is no map). */
  map(from: MetaSource, kind: MetaKind, source: Labels | undefined): Labels | undefined {
    if (source === undefined) return undefined;
    const filter = this.#groups[groupIndex(from, kind)];
    if (filter === null) return undefined;
    return filter === undefined ? source : filter.apply(source);
  }
}

function groupIndex(from: MetaSource, kind: MetaKind): number {
  return (from === 'pod' ? 0 : from === 'namespace' ? 2 : 4) + (kind === 'label' ? 0 : 1);
}
