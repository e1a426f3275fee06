/**
 * What tests hand the runtime's start functions (src/runtime/) besides a configuration: a quiet
 * environment, and a kubeconfig for a simulated API server, written and resolved as `serve`
 * resolves one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/index.ts';
import { createLogger, type Logger } from '../../src/log/index.ts';
import type { RuntimeEnv } from '../../src/runtime/service.ts';
import type { SimApiServer } from '../../src/sim/index.ts';

/** No environment, no home directory, a silent logger (unless given one), a `stdout` sink that swallows. */
export function testRuntime(logger: Logger = createLogger({ level: 'silent' })): RuntimeEnv {
  return { env: {}, homeDir: undefined, logger, stdout: new Writable({ write: (_chunk, _encoding, callback) => callback() }) };
}

/** The sim's kubeconfig, written in `dir` and loaded. */
export function kubeConfigFor(dir: string, sim: SimApiServer): KubeConfig {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, sim.kubeconfigYaml(), { mode: 0o600 });
  const result = loadKubeConfig({ kubeconfig: path, env: {}, homeDir: undefined });
  if (!result.ok) throw new Error(result.message);
  return result.kubeConfig;
}
