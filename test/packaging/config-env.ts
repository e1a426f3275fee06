// The environment variables the service reads, taken from src/config (the single source
// of truth): KLE_<SECTION>_<KEY> for every key, plus the conventional ones (NODE_NAME,
// POD_NAME, POD_UID, KUBECONFIG), and NODE_IP (src/runtime: the kubelet's default address).
// The chart may set nothing else.
import { CONVENTIONAL_ENV, configKeys } from '../../src/config/index.ts';
import { NODE_IP_ENV } from '../../src/runtime/options.ts';

export function configEnvNames(): ReadonlySet<string> {
  return new Set([...configKeys.map((key) => key.env), ...CONVENTIONAL_ENV.map((variable) => variable.name), NODE_IP_ENV]);
}

/** Dotted ids of every config key, e.g. "server.listen". */
export function configKeyIds(): readonly string[] {
  return configKeys.map((key) => key.id);
}
