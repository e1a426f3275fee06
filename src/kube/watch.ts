/**
 * client-node's Watch as the reflectors use it: one watch request, its line parsing, and its
 * inactivity timeout (the dead-connection detector), set to `kubernetes.watchTimeout`.
 *
 * The one place that reaches into client-node, and why: its Watch (2.0.1) has no public way to
 * set that timeout. `requestTimeoutMs` is private in its typings and a plain instance field at run
 * time (30 s), read each time the timer is reset; neither the constructor nor watch() take it.
 * Without it every watch would be cut after 30 s of silence, whatever watchTimeout says. Should a
 * release rename the field, this throws at start-up instead of silently keeping 30 s, and
 * test/kube's dead-connection test fails first.
 */
import { Watch, type KubeConfig } from './client-node.ts';
import type { RequestConfig } from './user-agent.ts';

export function createWatch(requests: RequestConfig, inactivityTimeoutMs: number): Watch {
  // Watch only calls the two methods a RequestConfig has (test/kube's User-Agent test guards it).
  const watch = new Watch(requests as KubeConfig);
  const fields = watch as unknown as { requestTimeoutMs?: unknown };
  if (typeof fields.requestTimeoutMs !== 'number') {
    throw new Error('@kubernetes/client-node\'s Watch has no requestTimeoutMs field any more: src/kube/watch.ts needs another way to set its inactivity timeout');
  }
  fields.requestTimeoutMs = inactivityTimeoutMs;
  return watch;
}
