// The environment variables the service reads, taken from src/config (the single source
// of truth): KLE_<SECTION>_<KEY> for every key, plus the conventional ones (NODE_NAME,
// POD_NAME, POD_UID, KUBECONFIG). The chart may set nothing else.
import { CONVENTIONAL_ENV, configKeys } from '../../src/config/index.ts';

export function configEnvNames(): ReadonlySet<string> {
  return new Set([...configKeys.map((key) => key.env), ...CONVENTIONAL_ENV.map((variable) => variable.name)]);
}

/** Dotted ids of every config key, e.g. "server.listen". */
export function configKeyIds(): readonly string[] {
  return configKeys.map((key) => key.id);
}
