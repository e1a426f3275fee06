/**
 * Component options at their configured defaults, built the way the runtime builds them: the
 * config schema parses `{}` and src/runtime/options.ts maps it. Tests and benchmarks take defaults
 * from here instead of restating them.
 */
import { defaultConfig, parseConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import type { EnricherOptions, ExcludeOptions, FieldRule, IncludeGroups, InputFieldNames, MultilineOptions, ParseJsonOptions, SchemaName } from '../../src/enrich/index.ts';
import type { PartialMergerOptions } from '../../src/formats/index.ts';
import { toBackoff, toEnricherOptions, toServerOptions } from '../../src/runtime/options.ts';
import type { ServerOptions } from '../../src/server/index.ts';

/** A configuration as a file with `input` would give it (every other key at its default); throws when the schema refuses it. */
export function testConfig(input: ConfigInput | Record<string, unknown>): Config {
  // The OTLP/gRPC receiver's default port (4317) is one for the whole machine: off unless a test asks.
  const server = (input as { server?: Record<string, unknown> }).server ?? {};
  const result = parseConfig({ ...input, server: { grpcListen: '', ...server } });
  if (!result.ok) throw new Error(`test configuration refused: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.config;
}

/** The kubernetes.backoff policy at its defaults. */
export function defaultBackoff() {
  return toBackoff(defaultConfig());
}

/** kubernetes.deletionDelay at its default, in ms. */
export function defaultDeletionDelayMs(): number {
  return defaultConfig().kubernetes.deletionDelay;
}

/** A PartialMerger's bounds as the file source gets them (source.maxMergedLineBytes, source.partialFlushTimeout). */
export function defaultMergerOptions(overrides: Partial<PartialMergerOptions> = {}): PartialMergerOptions {
  const s = defaultConfig().source;
  return { maxMergedLineBytes: s.maxMergedLineBytes, flushTimeoutMs: s.partialFlushTimeout, ...overrides };
}

/** Keys of the enricher's options to override; the nested groups are merged one level deep. */
export interface EnricherOptionsOverrides {
  schema?: SchemaName;
  include?: Partial<IncludeGroups>;
  rename?: Readonly<Record<string, string>>;
  fields?: readonly FieldRule[];
  dedot?: string;
  clusterName?: string;
  parseJson?: Partial<ParseJsonOptions>;
  exclude?: Partial<ExcludeOptions>;
  input?: Partial<InputFieldNames>;
  maxMergedLineBytes?: number;
  partialFlushTimeoutMs?: number;
  multiline?: Partial<MultilineOptions>;
}

/** The enricher's options as `serve` builds them from the `enrichment` defaults, some keys overridden. */
export function defaultEnricherOptions(overrides: EnricherOptionsOverrides = {}): EnricherOptions {
  const d = toEnricherOptions(defaultConfig());
  return {
    schema: overrides.schema ?? d.schema,
    include: { ...d.include, ...overrides.include },
    rename: { ...d.rename, ...overrides.rename },
    fields: overrides.fields ?? d.fields,
    dedot: overrides.dedot ?? d.dedot,
    clusterName: overrides.clusterName ?? d.clusterName,
    parseJson: { ...d.parseJson, ...overrides.parseJson },
    exclude: { ...d.exclude, ...overrides.exclude },
    input: { ...d.input, ...overrides.input },
    maxMergedLineBytes: overrides.maxMergedLineBytes ?? d.maxMergedLineBytes,
    partialFlushTimeoutMs: overrides.partialFlushTimeoutMs ?? d.partialFlushTimeoutMs,
    multiline: { ...d.multiline, ...overrides.multiline },
  };
}

/** The server's options as `serve` builds them from a default configuration (no auth token), some keys overridden. */
export function defaultServerOptions(overrides: Partial<ServerOptions> = {}): ServerOptions {
  return { ...toServerOptions(defaultConfig(), undefined), ...overrides };
}
