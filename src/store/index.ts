/** The store: slim copies of pods, namespaces and nodes, retained for a while after deletion. */
export { RetainingStore } from './retaining-store.ts';
export type { RetainingStoreOptions, StoreCounts, StoreTimers } from './retaining-store.ts';
export { DROPPED_ANNOTATIONS, MIRROR_ANNOTATION, slimNamespace, slimNode, slimPod } from './slim.ts';
export { StringInterner } from './intern.ts';
export type * from './types.ts';
