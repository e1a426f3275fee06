/** Configuration problems as values, and the one-line wording a user sees. */

/** Where a value came from. */
export type ConfigSource =
  | { kind: 'file'; file: string; line?: number; column?: number }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; flag: string }
  | { kind: 'argument' }
  | { kind: 'default' };

export type ConfigErrorCode =
  | 'unknown_key' | 'wrong_type' | 'missing_key' | 'bad_duration' | 'bad_size' | 'bad_enum' | 'bad_listen'
  | 'bad_value' | 'out_of_range' | 'mutually_exclusive' | 'file_not_found' | 'file_unreadable'
  | 'invalid_yaml' | 'invalid_json' | 'not_a_mapping' | 'unknown_env' | 'unknown_flag' | 'missing_flag_value'
  | 'bad_argument';

export interface ConfigError {
  code: ConfigErrorCode;
  /** Dotted key path ("server.maxBodyBytes"); "" when the problem is not about one key. */
  path: string;
  /** The offending value (secrets already "<redacted>"); undefined when there is none to show. */
  value: unknown;
  /** What a valid value looks like. */
  expected: string;
  source: ConfigSource;
  /** One line, without path, value or source (formatConfigError adds those). */
  message: string;
}

export const REDACTED = '<redacted>';

const MAX_VALUE_CHARS = 80;

/** JSON-ish rendering: strings quoted, so 8080 and "8080" read differently. */
function displayValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

function formatSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'file': {
      const position = source.line === undefined ? '' : `:${source.line}:${source.column ?? 1}`;
      return `file ${source.file}${position}`;
    }
    case 'env': return `env ${source.name}`;
    case 'flag': return `flag ${source.flag}`;
    case 'argument': return 'command line';
    case 'default': return 'defaults';
  }
}

/** `<path>: <message> (got <value>, expected <expected>) [from <source>]`; "path: " and "got" only when known. */
export function formatConfigError(error: ConfigError): string {
  const where = error.path === '' ? '' : `${error.path}: `;
  const got = error.value === undefined ? '' : `got ${displayValue(error.value)}, `;
  return `${where}${error.message} (${got}expected ${error.expected}) [from ${formatSource(error.source)}]`;
}
