/** Talking to the API server: credentials, and the reflectors that fill the store. */
export { KubeConfig } from './client-node.ts';
export { kubeletKubeConfig, loadKubeConfig } from './kubeconfig.ts';
export type { KubeletConnection, KubeConfigLoadError, KubeConfigResult, KubeConfigSource, LoadKubeConfigOptions, LoadedKubeConfig } from './kubeconfig.ts';
export { startReflectors, reflectorTargets } from './reflectors.ts';
export type { ReflectorTarget, Reflectors, ReflectorsOptions } from './reflectors.ts';
export type { ReflectorLogger } from './reflector.ts';
export { KubeletPodSource } from './kubelet-pods.ts';
export type { KubeletPodsOptions } from './kubelet-pods.ts';
export { BackoffSequence, backoffDelay, validateBackoff } from '../backoff/index.ts';
export type { Backoff } from '../backoff/index.ts';
export { normaliseApiError, redact } from './errors.ts';
export type { ApiError, ApiErrorCode } from './errors.ts';
export type { ReadinessSource, ReflectorStatus } from './types.ts';
