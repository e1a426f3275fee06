/**
 * The simulated Kubernetes API server and the realistic cluster generator, used by `demo` and the
 * tests: a real HTTP list/watch endpoint on loopback with injectable faults.
 */
export { SimApiServer, startSimApiServer } from './server.ts';
export type { SimApiServerOptions } from './server.ts';
export type { SimLogger } from './reply.ts';
export type { RequestRecord } from './request-log.ts';
export type { FailNextOptions, FaultVerb, SimFaults } from './faults.ts';
export { SimError } from './store.ts';
export type { SimErrorCode, Change, ChangeType } from './store.ts';
export type { KubeconfigOptions } from './kubeconfig.ts';
export { kubeconfigYaml } from './kubeconfig.ts';
export type { StatusJson } from './status.ts';
export { parseFieldSelector, matchesFields } from './selectors.ts';
export type * from './types.ts';
export { generateCluster, loadCluster, podFor, namespaceFor, nodeFor, normalizeImage, imageIdOf } from './cluster.ts';
export type { ClusterOptions, GeneratedCluster, PodOptions, ContainerInput, PodOwnerInput, NamespaceOptions, NodeOptions, ObjectSink } from './cluster.ts';
export { ClusterChurn, startChurn } from './churn.ts';
export type { ChurnAction, ChurnActionType, ChurnOptions } from './churn.ts';
export { SeededRandom } from './random.ts';
export { SimKubelet, startSimKubelet } from './kubelet.ts';
export type { SimKubeletOptions, SimKubeletRequest } from './kubelet.ts';
