/** Kubernetes label selectors: one parser and matcher for the service's filters and the simulated API server. */
export { parseLabelSelector, labelSelectorMatches } from './label-selector.ts';
export type {
  Labels,
  LabelOperator,
  LabelRequirement,
  LabelSelector,
  LabelSelectorErrorCode,
  LabelSelectorOptions,
  LabelSelectorResult,
} from './label-selector.ts';
