/** Configuration: schema (types and docs), loading from file/env/flags, units, printing. */
export { configSchema, MUTUALLY_EXCLUSIVE, checkSink } from './schema.ts';
export type {
  Config, ConfigInput, KubernetesConfig, BackoffConfig, ServerConfig, EnrichmentConfig, SourceConfig, LoggingConfig,
  LogLevel, EnrichmentSchemaName, LeafKind,
} from './schema.ts';
export { loadConfig, parseConfig, defaultConfig } from './load.ts';
export type { LoadConfigOptions, LoadConfigResult } from './load.ts';
export { formatConfigError, REDACTED } from './errors.ts';
export type { ConfigError, ConfigErrorCode, ConfigSource } from './errors.ts';
export { parseDuration, parseSize, formatDuration, formatSize } from './units.ts';
export type { UnitResult } from './units.ts';
export { parseListenAddress } from './listen.ts';
export type { ListenAddress, ListenResult } from './listen.ts';
export { redactConfig, formatConfigYaml } from './print.ts';
export { configKeys } from './keys.ts';
export type { ConfigKey, ConfigSection } from './keys.ts';
export { CONFIG_FLAGS, CONVENTIONAL_ENV } from './overrides.ts';
export type { ConfigFlag, ConfigFlagName } from './overrides.ts';
export { renderConfigDocs } from './docs.ts';
export type { ReadFile } from './file.ts';
export { readTokenFile, tokenFileSettings, type TokenFileResult } from './token-file.ts';
