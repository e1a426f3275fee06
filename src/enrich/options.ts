/**
 * What the enricher needs to know, as a plain, fully resolved value: src/runtime/options.ts maps
 * the `enrichment` config section onto it (durations and sizes already in ms and bytes). Its
 * defaults are the config schema's (src/config/schema.ts); tests build them through it too
 * (test/builders/defaults.ts).
 */

import type { FieldRule } from './field-rules.ts';
import type { ParseJsonOptions } from './json-message.ts';

/** Output layouts, each mirroring the event another project emits (docs/schemas.md). */
export type SchemaName = 'vector' | 'fluentbit' | 'otel';
export const SCHEMA_NAMES: readonly SchemaName[] = ['vector', 'fluentbit', 'otel'];

/** Which label/annotation maps go into the output. */
export interface IncludeGroups {
  podLabels: boolean;
  podAnnotations: boolean;
  namespaceLabels: boolean;
  namespaceAnnotations: boolean;
  nodeLabels: boolean;
  nodeAnnotations: boolean;
}

export interface ExcludeOptions {
  /** A pod, or every pod of a namespace, labelled `<label>: "true"` is skipped. */
  label: string;
  /** A pod annotated `<annotation>: "true"` is skipped. */
  annotation: string;
  /** A pod annotation listing container names (comma-separated) whose lines are skipped. */
  containersAnnotation: string;
  /** opt-out: everything but what is excluded; opt-in: only pods, or pods of namespaces, marked with `optInKey`. */
  mode: 'opt-out' | 'opt-in';
  /** The label or annotation (value "true") by which a pod or a namespace opts in. */
  optInKey: string;
}

/** Field names of raw events, so shippers' own records fit unchanged. */
export interface InputFieldNames {
  /** The log path (Vector's file source: `file`; Fluent Bit: its tail `Path_Key`). */
  file: string;
  /** The line as the runtime wrote it (CRI or Docker json-file). */
  line: string;
  /** An already decoded message (then `timestamp` and `stream` may be given). */
  message: string;
  timestamp: string;
  stream: string;
}

export interface EnricherOptions {
  schema: SchemaName;
  include: IncludeGroups;
  /**
   * Output key renames, dotted paths (`{"kubernetes.pod_labels": "kubernetes.labels"}`); a
   * segment containing dots is quoted (`resource."k8s.pod.name"`); an empty target drops the field.
   */
  rename: Readonly<Record<string, string>>;
  /** Which labels and annotations are carried, under which keys; empty: the `include` groups, whole. */
  fields: readonly FieldRule[];
  /** Replaces the dots of carried label and annotation keys; undefined: keys as they are. */
  dedot: string | undefined;
  /** The cluster's name, in every event; undefined: none. */
  clusterName: string | undefined;
  /** Messages that are JSON objects parsed into fields. */
  parseJson: ParseJsonOptions;
  exclude: ExcludeOptions;
  input: InputFieldNames;
  /** Cap on a merged partial line, in bytes. */
  maxMergedLineBytes: number;
  /** A partial line whose final fragment never comes is emitted after this long. */
  partialFlushTimeoutMs: number;
  /** Multi-line messages of annotated pods (src/multiline/). */
  multiline: MultilineOptions;
}

export interface MultilineOptions {
  /** Pod annotation naming the rule; `<annotation>-<container>` for one container. */
  annotation: string;
  /** Cap on one joined event's message, in UTF-8 bytes. */
  maxBytes: number;
  /** A record with no new line after this long is emitted. */
  flushTimeoutMs: number;
}
