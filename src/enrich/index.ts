/** Enrichment: raw or decoded log lines in, events with their pod's metadata out (docs/schemas.md). */
export type * from './types.ts';
export { BufferOwnershipError, buffersPoisoned, ByteWriter, ByteWriterPool, DEBUG_BUFFERS_ENV } from './byte-writer.ts';
export { createEnricher } from './enricher.ts';
export type { EnricherDeps } from './enricher.ts';
export { SCHEMA_NAMES } from './options.ts';
export type { EnricherOptions, ExcludeOptions, IncludeGroups, InputFieldNames, MultilineOptions, SchemaName } from './options.ts';
export { fieldRuleProblem } from './field-rules.ts';
export type { FieldRule, MetaKind, MetaSource } from './field-rules.ts';
export type { ParseJsonOptions } from './json-message.ts';
export { EnrichConfigError } from './layout.ts';
export { PENDING_MARKER, UNMATCHED_MARKER } from './schemas.ts';
