/**
 * Writes a growing `/var/log/pods`-shaped tree the way the kubelet and the runtimes do: one
 * directory per pod (`<ns>_<pod>_<uid>`), one per container, `0.log` in CRI or Docker json-file
 * format, long lines split into partial fragments, and kubelet-style rotation (the live file
 * renamed to `0.log.<timestamp>`, a new `0.log` created).
 */
import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { demoMessage, type DemoMessage } from './messages.ts';

export interface DemoPodFiles {
  namespace: string;
  name: string;
  uid: string;
  app: string;
  containers: readonly string[];
  format: 'cri' | 'docker';
}

export interface LogTreeOptions {
  podsDir: string;
  /** Fragment size for long lines (the runtimes use 16 KiB; smaller shows merging). */
  splitBytes: number;
  /** Size at which a live file is rotated. */
  rotateBytes: number;
  random: () => number;
}

/** RFC 3339 with nanoseconds, as containerd writes it. */
function runtimeTimestamp(ms: number, random: () => number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-24T05:26:09.123Z
  const extra = String(Math.floor(random() * 1e6)).padStart(6, '0');
  return `${iso.slice(0, -1)}${extra}Z`;
}

function criLines(ts: string, m: DemoMessage, splitBytes: number): string {
  let out = '';
  let rest = m.text;
  while (rest.length > splitBytes) {
    out += `${ts} ${m.stream} P ${rest.slice(0, splitBytes)}\n`;
    rest = rest.slice(splitBytes);
  }
  return out + `${ts} ${m.stream} F ${rest}\n`;
}

function dockerLines(ts: string, m: DemoMessage, splitBytes: number): string {
  let out = '';
  let rest = m.text;
  while (rest.length > splitBytes) {
    out += JSON.stringify({ log: rest.slice(0, splitBytes), stream: m.stream, time: ts }) + '\n';
    rest = rest.slice(splitBytes);
  }
  return out + JSON.stringify({ log: `${rest}\n`, stream: m.stream, time: ts }) + '\n';
}

function podDirName(p: Pick<DemoPodFiles, 'namespace' | 'name' | 'uid'>): string {
  return `${p.namespace}_${p.name}_${p.uid}`;
}

export class LogTreeWriter {
  readonly #options: LogTreeOptions;
  #seq = 0;

  constructor(options: LogTreeOptions) {
    this.#options = options;
  }

  createPod(pod: DemoPodFiles): void {
    for (const c of pod.containers) mkdirSync(join(this.#options.podsDir, podDirName(pod), c), { recursive: true });
  }

  /** Appends one message (possibly several partial lines) to each container's live file. */
  writeLine(pod: DemoPodFiles, nowMs: number): number {
    let written = 0;
    for (const c of pod.containers) {
      const file = join(this.#options.podsDir, podDirName(pod), c, '0.log');
      const m = demoMessage(this.#options.random, pod.app, this.#seq++);
      const ts = runtimeTimestamp(nowMs, this.#options.random);
      const data = pod.format === 'cri' ? criLines(ts, m, this.#options.splitBytes) : dockerLines(ts, m, this.#options.splitBytes);
      appendFileSync(file, data);
      written++;
      this.#rotateIfLarge(file, nowMs);
    }
    return written;
  }

  /** One given message on stdout of each container (e.g. a pod's last words after deletion). */
  writeMarker(pod: DemoPodFiles, nowMs: number, text: string): void {
    for (const c of pod.containers) {
      const file = join(this.#options.podsDir, podDirName(pod), c, '0.log');
      const m: DemoMessage = { stream: 'stdout', text: `${text} (seq ${this.#seq++})` };
      const ts = runtimeTimestamp(nowMs, this.#options.random);
      appendFileSync(file, pod.format === 'cri' ? criLines(ts, m, this.#options.splitBytes) : dockerLines(ts, m, this.#options.splitBytes));
    }
  }

  removePod(pod: DemoPodFiles): void {
    rmSync(join(this.#options.podsDir, podDirName(pod)), { recursive: true, force: true });
  }

  #rotateIfLarge(file: string, nowMs: number): void {
    if (statSync(file).size < this.#options.rotateBytes) return;
    // The kubelet's rotated name: 0.log.20261124-052609 (local format without separators).
    const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    renameSync(file, `${file}.${stamp}`);
    appendFileSync(file, '');
  }
}
