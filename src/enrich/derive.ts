/**
 * Values other projects derive from API fields, reproduced rule for rule so our output equals
 * theirs: workload names from owner references (OpenTelemetry k8sattributes), image name and tag
 * (k8sattributes), and the id/hash extraction Fluent Bit's kubernetes filter applies.
 */
import type { OwnerRef, PodMeta } from '../store/types.ts';

export interface Workload {
  deployment: string | undefined;
  replicaSet: string | undefined;
  statefulSet: string | undefined;
  daemonSet: string | undefined;
  job: string | undefined;
  cronJob: string | undefined;
}

// k8sattributes' extractDeploymentNameFromReplicaSet: the last `-` part is a 10-char hash.
const DEPLOYMENT_HASH_SUFFIX = /^[a-z0-9]{10}$/;
// k8sattributes' cronJobRegex: `<cronjob>-<scheduled time in minutes>`.
const CRONJOB_JOB_NAME = /^(.*)-\d+$/;

/**
 * The Deployment owning a ReplicaSet, from names alone (we watch no ReplicaSets). The pod's
 * `pod-template-hash` label is the exact suffix; without it, k8sattributes' rule applies.
 */
export function deploymentOfReplicaSet(replicaSetName: string, podTemplateHash: string | undefined): string | undefined {
  if (podTemplateHash !== undefined && podTemplateHash !== '' && replicaSetName.endsWith('-' + podTemplateHash)) {
    const name = replicaSetName.slice(0, replicaSetName.length - podTemplateHash.length - 1);
    return name === '' ? undefined : name;
  }
  const dash = replicaSetName.lastIndexOf('-');
  if (dash <= 0) return undefined;
  return DEPLOYMENT_HASH_SUFFIX.test(replicaSetName.slice(dash + 1)) ? replicaSetName.slice(0, dash) : undefined;
}

/** The CronJob that created a Job, from the Job's name. */
export function cronJobOfJob(jobName: string): string | undefined {
  const m = CRONJOB_JOB_NAME.exec(jobName);
  return m === null || m[1] === '' ? undefined : m[1];
}

export function workloadOf(pod: PodMeta): Workload {
  const w: Workload = { deployment: undefined, replicaSet: undefined, statefulSet: undefined, daemonSet: undefined, job: undefined, cronJob: undefined };
  const owner: OwnerRef | undefined = pod.owner;
  if (owner === undefined) return w;
  switch (owner.kind) {
    case 'ReplicaSet':
      w.replicaSet = owner.name;
      w.deployment = deploymentOfReplicaSet(owner.name, pod.labels['pod-template-hash']);
      break;
    case 'StatefulSet':
      w.statefulSet = owner.name;
      break;
    case 'DaemonSet':
      w.daemonSet = owner.name;
      break;
    case 'Job':
      w.job = owner.name;
      w.cronJob = cronJobOfJob(owner.name);
      break;
  }
  return w;
}

const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * `registry:5000/team/app:1.4@sha256:...` → name `registry:5000/team/app`, tag `1.4`; no tag →
 * `latest` (k8sattributes' container.image.name / container.image.tag). Undefined when malformed.
 */
export function parseImage(image: string): { name: string; tag: string } | undefined {
  if (image === '' || /\s/.test(image)) return undefined;
  const at = image.indexOf('@');
  const ref = at === -1 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(':');
  if (colon === -1 || colon < ref.lastIndexOf('/')) return ref === '' ? undefined : { name: ref, tag: 'latest' };
  const name = ref.slice(0, colon);
  const tag = ref.slice(colon + 1);
  if (name === '' || !TAG.test(tag)) return undefined;
  return { name, tag };
}

/**
 * Fluent Bit's extract_hash(): the part after `<scheme>://` (containerd://abc → abc,
 * docker-pullable://repo@sha256:... → repo@sha256:...); a value with a colon but no `//` whole.
 */
export function fluentBitHash(value: string): string | undefined {
  if (value.length <= 1) return undefined;
  const colon = value.indexOf(':');
  if (colon === -1) return undefined;
  let end = colon;
  while (value.charCodeAt(end + 1) === 47 /* / */) end++;
  if (end === colon) return value;
  const rest = value.slice(end + 1);
  return rest === '' ? undefined : rest;
}

/** `containerd://4f1e...` → `4f1e...` (k8sattributes strips the runtime prefix for container.id). */
export function bareContainerId(containerId: string): string {
  const sep = containerId.indexOf('://');
  return sep === -1 ? containerId : containerId.slice(sep + 3);
}
