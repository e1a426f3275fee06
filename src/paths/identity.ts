/**
 * Who wrote a log file, from its path alone. The kubelet lays files out as
 *
 *   <podsDir>/<namespace>_<pod>_<uid>/<container>/<restart>.log        (live file)
 *   <podsDir>/<namespace>_<pod>_<uid>/<container>/<restart>.log.<YYYYMMDD-hhmmss>[.gz]   (rotated)
 *   <containersDir>/<pod>_<namespace>_<container>-<64 hex container id>.log   (symlink to the live file)
 *
 * The layout is recognised by the last path segments, whatever the prefix (`/host/var/log/pods`,
 * a relative `pods/...`). Kubernetes names never contain `_`, so the split is unambiguous once
 * every part passes its naming rule; anything else is answered with what was wrong, never thrown.
 */
import { isDns1123Label, isDns1123Subdomain, isLowerHexRun, isPodUid } from './names.ts';
import type { PathMatch, PodLogIdentity } from './types.ts';

/** The kubelet cuts /var/log/containers names to ext4's 255 bytes, losing the end of the container id. */
const MAX_FILE_NAME = 255;
const CONTAINER_ID_HEX = 64;
/** The kubelet itself accepts a truncated id of at least 6 characters (getContainerIDFromLegacyLogSymlink). */
const MIN_TRUNCATED_ID_HEX = 6;
const MAX_PATH = 4096;

const LABEL_RULE = 'an RFC 1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters';
const SUBDOMAIN_RULE = 'an RFC 1123 subdomain: lower-case letters, digits, "-" and ".", each dot-separated part starting and ending with a letter or digit, at most 253 characters';
const UID_RULE = 'a pod uid: a UUID (8-4-4-4-12 lower-case hex) or a static pod\'s 32 lower-case hex config hash';

function notRecognised(detail: string): PathMatch {
  return { ok: false, reason: 'path_not_recognised', detail };
}

function q(s: string): string {
  return JSON.stringify(s.length > 300 ? `${s.slice(0, 300)}…` : s);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Digits at `[start, start+count)`. */
function digitsAt(s: string, start: number, count: number): boolean {
  if (start + count > s.length) return false;
  for (let i = start; i < start + count; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

interface PodsFileName {
  restartCount: number;
  rotated: boolean;
  compressed: boolean;
}

/**
 * `<restart>.log`, `<restart>.log.<YYYYMMDD-hhmmss>`, `<restart>.log.<YYYYMMDD-hhmmss>.gz`.
 * Returns undefined when the name does not even start like one, a string saying what is wrong
 * when it starts like one but is not.
 */
function parsePodsFileName(name: string): PodsFileName | string | undefined {
  let i = 0;
  let restartCount = 0;
  while (i < name.length && isDigit(name.charCodeAt(i))) {
    restartCount = restartCount * 10 + (name.charCodeAt(i) - 48);
    i++;
  }
  if (i === 0 || !name.startsWith('.log', i)) return undefined;
  if (i > 10) return `restart count ${q(name.slice(0, i))} is not a plausible number`;
  i += 4;
  if (i === name.length) return { restartCount, rotated: false, compressed: false };
  // Rotated sibling: `.YYYYMMDD-hhmmss` (Go layout 20060102-150405).
  if (name.charCodeAt(i) !== 46 || !digitsAt(name, i + 1, 8) || name.charCodeAt(i + 9) !== 45 || !digitsAt(name, i + 10, 6)) {
    return `file name ${q(name)} is not <restart>.log, <restart>.log.<YYYYMMDD-hhmmss> or <restart>.log.<YYYYMMDD-hhmmss>.gz`;
  }
  i += 16;
  if (i === name.length) return { restartCount, rotated: true, compressed: false };
  const rest = name.slice(i);
  if (rest === '.gz') return { restartCount, rotated: true, compressed: true };
  if (rest === '.tmp') return `file name ${q(name)} is the kubelet's temporary file while it compresses a rotated log; read the .gz once it appears`;
  return `file name ${q(name)} has an unknown suffix ${q(rest)} after the rotation timestamp (expected nothing or .gz)`;
}

/** `a_b_c` into its three parts, or undefined when there are not exactly two underscores. */
function splitThree(s: string): [string, string, string] | undefined {
  const u1 = s.indexOf('_');
  if (u1 < 0) return undefined;
  const u2 = s.indexOf('_', u1 + 1);
  if (u2 < 0 || s.indexOf('_', u2 + 1) >= 0) return undefined;
  return [s.slice(0, u1), s.slice(u1 + 1, u2), s.slice(u2 + 1)];
}

function namesProblem(namespace: string, podName: string, containerName: string): string | undefined {
  if (!isDns1123Label(namespace)) return `namespace ${q(namespace)} is not ${LABEL_RULE}`;
  if (!isDns1123Subdomain(podName)) return `pod name ${q(podName)} is not ${SUBDOMAIN_RULE}`;
  if (!isDns1123Label(containerName)) return `container name ${q(containerName)} is not ${LABEL_RULE}`;
  return undefined;
}

function podsLayout(path: string, fileStart: number, file: PodsFileName): PathMatch {
  const layout = '<namespace>_<pod>_<uid>/<container>/<restart>.log';
  const containerEnd = fileStart - 1;
  const containerSlash = containerEnd > 0 ? path.lastIndexOf('/', containerEnd - 1) : -1;
  if (containerSlash < 0) return notRecognised(`path ${q(path)} has no <namespace>_<pod>_<uid>/<container>/ directories before the file (expected ${layout})`);
  const podDirEnd = containerSlash;
  const podDirSlash = podDirEnd > 0 ? path.lastIndexOf('/', podDirEnd - 1) : -1;
  const containerName = path.slice(containerSlash + 1, containerEnd);
  const podDir = path.slice(podDirSlash + 1, podDirEnd);
  const parts = splitThree(podDir);
  if (parts === undefined) return notRecognised(`pod directory ${q(podDir)} is not <namespace>_<pod>_<uid> (expected ${layout})`);
  const [namespace, podName, podUid] = parts;
  const problem = namesProblem(namespace, podName, containerName);
  if (problem !== undefined) return notRecognised(problem);
  if (!isPodUid(podUid)) return notRecognised(`pod uid ${q(podUid)} is not ${UID_RULE}`);
  const identity: PodLogIdentity = {
    layout: 'pods',
    namespace,
    podName,
    podUid,
    containerName,
    restartCount: file.restartCount,
    containerId: undefined,
    rotated: file.rotated,
    compressed: file.compressed,
  };
  return { ok: true, identity };
}

function containersLayout(name: string): PathMatch | undefined {
  if (!name.endsWith('.log')) return undefined;
  const parts = splitThree(name.slice(0, -4));
  if (parts === undefined) return undefined;
  const [podName, namespace, rest] = parts;
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return notRecognised(`file name ${q(name)} has no -<container id> after the container name (expected <pod>_<namespace>_<container>-<64 hex id>.log)`);
  const containerName = rest.slice(0, dash);
  const idLength = rest.length - dash - 1;
  let containerId: string | undefined;
  if (idLength === CONTAINER_ID_HEX && isLowerHexRun(rest, dash + 1, idLength)) {
    containerId = rest.slice(dash + 1);
  } else if (name.length === MAX_FILE_NAME && idLength >= MIN_TRUNCATED_ID_HEX && idLength < CONTAINER_ID_HEX && isLowerHexRun(rest, dash + 1, idLength)) {
    containerId = undefined; // cut by the kubelet at 255 bytes: the id is incomplete, the names are not
  } else {
    return notRecognised(`container id ${q(rest.slice(dash + 1))} in ${q(name)} is not 64 lower-case hex characters`);
  }
  const problem = namesProblem(namespace, podName, containerName);
  if (problem !== undefined) return notRecognised(problem);
  const identity: PodLogIdentity = {
    layout: 'containers',
    namespace,
    podName,
    podUid: undefined,
    containerName,
    restartCount: undefined,
    containerId,
    rotated: false,
    compressed: false,
  };
  return { ok: true, identity };
}

/**
 * The pod identity a kubelet log path encodes. Pure and total: every string gets an answer, an
 * identity or `{ ok: false, reason: 'path_not_recognised', detail }` saying which part is wrong.
 */
export function podIdentityFromPath(path: string): PathMatch {
  if (typeof path !== 'string') return notRecognised(`expected the path as a string, got ${typeof path}`);
  if (path.length === 0) return notRecognised('the path is empty');
  if (path.length > MAX_PATH) return notRecognised(`the path is longer than ${MAX_PATH} characters`);
  const fileStart = path.lastIndexOf('/') + 1;
  if (fileStart === path.length) return notRecognised(`path ${q(path)} ends with "/": expected a log file, not a directory`);
  const name = path.slice(fileStart);

  const podsFile = parsePodsFileName(name);
  if (typeof podsFile === 'string') return notRecognised(podsFile);
  if (podsFile !== undefined) return podsLayout(path, fileStart, podsFile);

  return (
    containersLayout(name) ??
    notRecognised(
      `file name ${q(name)} matches neither <namespace>_<pod>_<uid>/<container>/<restart>.log[.<YYYYMMDD-hhmmss>[.gz]] (/var/log/pods) nor <pod>_<namespace>_<container>-<64 hex id>.log (/var/log/containers)`,
    )
  );
}
