/** Multi-line messages: start-of-record rules (java, python, go, a regex) and the joiner that applies them per stream. */
export { END, TEST_CHARS, hasNestedQuantifier, isRuleError, parseMultilineRule, transitionFor } from './rules.ts';
export type { MultilineRule, RuleError, Transition } from './rules.ts';
export { MultilineJoiner } from './joiner.ts';
export type { JoinEnd, JoinLine, JoinStats, JoinedEvent, MultilineJoinerOptions } from './joiner.ts';
export { MultilineAnnotations, MultilineRuleCache } from './annotation.ts';
export type { InvalidMultilineAnnotation } from './annotation.ts';
