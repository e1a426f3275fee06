/**
 * The service's own log: pino JSON lines on stderr (stdout carries enriched events), with secrets
 * censored wherever they appear in the first few levels of a logged object.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  /** Default: stderr (file descriptor 2), written synchronously so nothing is lost at exit. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line, e.g. { component: "reflector" }. */
  bindings?: Record<string, unknown>;
}

export const REDACTED = '<redacted>';

/** Key names whose values never reach the log, at any depth up to SECRET_DEPTH. */
const SECRET_KEYS: readonly string[] = [
  'authorization', 'Authorization', 'proxy-authorization', 'cookie', 'set-cookie',
  // The page's WebSocket carries its bearer token as a subprotocol (server/ui/websocket-auth.ts).
  'sec-websocket-protocol',
  'token', 'authToken', 'serviceToken', 'bearerToken', 'accessToken', 'refreshToken', 'idToken', 'password',
  'client-key-data', 'clientKeyData', 'keyData', 'kubeconfig',
];

// pino's redaction has no recursive wildcard; four levels cover {req: {headers: {authorization}}}
// and {config: {server: {authToken}}}. Deeper secrets must not be logged as whole objects.
const SECRET_DEPTH = 4;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) {
    const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    for (let depth = 0; depth < SECRET_DEPTH; depth++) {
      const prefix = '*.'.repeat(depth);
      paths.push(segment.startsWith('[') ? prefix.slice(0, -1) + segment : prefix + segment);
    }
  }
  return paths;
}

// A kubeconfig *path* is useful in logs; its contents (an object or a multi-line string) are not.
function censor(value: unknown, path: string[]): unknown {
  if (path[path.length - 1] === 'kubeconfig' && typeof value === 'string' && !value.includes('\n')) return value;
  return REDACTED;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  const logger = pino(
    {
      level: options.level,
      base: { name: 'kube-log-enricher' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths(), censor },
    },
    destination,
  );
  return options.bindings === undefined ? logger : logger.child(options.bindings);
}
