/**
 * Who wrote a log file, as far as its path tells.
 * `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log[.<ts>][.gz]` gives the uid and restart
 * count; `/var/log/containers/<pod>_<ns>_<container>-<id>.log` gives the container id instead.
 */
export interface PodLogIdentity {
  layout: 'pods' | 'containers';
  namespace: string;
  podName: string;
  /** API uid, or for a static pod the kubelet's config hash (see the mirror annotation). */
  podUid: string | undefined;
  containerName: string;
  restartCount: number | undefined;
  /** 64-hex runtime id (only from the /var/log/containers layout). */
  containerId: string | undefined;
  /** A rotated sibling (`0.log.20261123-101500`, possibly `.gz`), not the live file. */
  rotated: boolean;
  compressed: boolean;
}

export type PathMatch =
  | { ok: true; identity: PodLogIdentity }
  | { ok: false; reason: 'path_not_recognised'; detail: string };
