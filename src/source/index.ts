/** The bundled file source: tails the node's pod logs without losing a line (see file-source.ts). */
export { startFileSource, type FileSource, type FileSourceDeps, type FileSourceStats, type StopOptions } from './file-source.ts';
export type { MultilineSource } from './follower.ts';
export { SourceOptionsError, resolveOptions, type FileSourceOptions } from './options.ts';
export { type BatchEnricher, type SourceBatch } from './delivery.ts';
export { createInProcessStage, createSerialisingStage, type InProcessStageOptions } from './stages.ts';
export { CheckpointStore, entryJson, parseCheckpoints, serialiseCheckpoints, type CheckpointEntry } from './checkpoints.ts';
export { PodLogDiscovery, createPathFilter, isOwnPodDir } from './discovery.ts';
export type { SourceLogger } from './logger.ts';
