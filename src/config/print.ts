/** The effective configuration as people read and write it: YAML, units spelled out, secrets hidden. */
import { stringify } from 'yaml';
import { REDACTED } from './errors.ts';
import { configKeys } from './keys.ts';
import type { ConfigKey } from './keys.ts';
import type { Config } from './schema.ts';
import { formatDuration, formatSize } from './units.ts';

function mapLeaves(config: Config, change: (key: ConfigKey, value: unknown) => unknown): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const key of configKeys) {
    let parent: Record<string, unknown> | undefined = copy;
    for (const segment of key.path.slice(0, -1)) {
      const next: unknown = parent[segment];
      parent = next !== null && typeof next === 'object' ? (next as Record<string, unknown>) : undefined;
      if (parent === undefined) break;
    }
    const name = key.path[key.path.length - 1] ?? '';
    if (parent !== undefined && parent[name] !== undefined) parent[name] = change(key, parent[name]);
  }
  return copy;
}

/** A copy with every secret (server.authToken, source.serviceToken) replaced by "<redacted>". */
export function redactConfig(config: Config): Config {
  return mapLeaves(config, (key, value) => (key.secret ? REDACTED : value)) as unknown as Config;
}

/**
 * YAML a user can read and load again: durations and sizes in units ("60s", "8MiB"), secrets
 * redacted, unset optional keys left out.
 */
export function formatConfigYaml(config: Config): string {
  const printable = mapLeaves(redactConfig(config), (key, value) => {
    if (typeof value !== 'number') return value;
    if (key.kind === 'duration') return formatDuration(value);
    if (key.kind === 'size') return formatSize(value);
    return value;
  });
  return stringify(printable, { lineWidth: 0 });
}
