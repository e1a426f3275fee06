/**
 * The `sink` setting: "stdout", "file:PATH", an http(s):// URL (NDJSON) or an OTLP endpoint
 * (otlp+http://, otlp+https://, otlp+grpc://, otlp+grpcs://). Pure parsing, no I/O.
 */
export type SinkSpec =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'http'; url: URL }
  | OtlpSinkSpec;

/**
 * OTLP/HTTP: `url` is where the requests are POSTed (`/v1/logs` added when the setting has no
 * path). OTLP/gRPC: `url` names host and port only; `tls` says which credentials.
 */
export interface OtlpSinkSpec {
  kind: 'otlp';
  transport: 'http' | 'grpc';
  url: URL;
  tls: boolean;
}

/** `reason` says what is wrong in a few words; `error` also names the setting and what is expected. */
export type SinkSpecResult = { ok: true; spec: SinkSpec } | { ok: false; error: string; reason: string };

export const SINK_EXPECTED = '"stdout", "file:PATH", an http:// or https:// URL, or an OTLP endpoint (otlp+http://, otlp+https://, otlp+grpc://, otlp+grpcs://)';

const OTLP_SCHEMES: Readonly<Record<string, { transport: 'http' | 'grpc'; tls: boolean; port: number }>> = {
  'otlp+http:': { transport: 'http', tls: false, port: 4318 },
  'otlp+https:': { transport: 'http', tls: true, port: 4318 },
  'otlp+grpc:': { transport: 'grpc', tls: false, port: 4317 },
  'otlp+grpcs:': { transport: 'grpc', tls: true, port: 4317 },
};

/** OTLP/HTTP's logs path (https://opentelemetry.io/docs/specs/otlp/#otlphttp-request). */
export const OTLP_LOGS_PATH = '/v1/logs';

export function parseSinkSpec(text: string): SinkSpecResult {
  const spec = text.trim();
  if (spec === 'stdout') return { ok: true, spec: { kind: 'stdout' } };
  if (spec.startsWith('file:')) {
    // "file:///x" is accepted too, as users write URLs out of habit.
    const path = spec.startsWith('file://') ? decodeURIComponent(spec.slice('file://'.length)) : spec.slice('file:'.length);
    if (path === '') return refused(text, '"file:" needs a path, as in "file:/var/log/enriched.ndjson"');
    return { ok: true, spec: { kind: 'file', path } };
  }
  const scheme = /^(https?|otlp\+(?:https?|grpcs?)):\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === undefined) return refused(text, 'unknown kind of sink');
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    return refused(redactUrl(spec), 'not a valid URL');
  }
  if (url.hostname === '') return refused(redactUrl(spec), 'the URL has no host');
  const otlp = OTLP_SCHEMES[`${scheme}:`];
  if (otlp === undefined) return { ok: true, spec: { kind: 'http', url } };
  return otlpSpec(url, otlp);
}

function refused(shown: string, reason: string): SinkSpecResult {
  return { ok: false, reason, error: `sink "${shown}": ${reason}; expected ${SINK_EXPECTED}` };
}

function otlpSpec(written: URL, scheme: { transport: 'http' | 'grpc'; tls: boolean; port: number }): SinkSpecResult {
  // "otlp+http" is not a special scheme to WHATWG URLs: the same URL with http(s) gets the usual handling.
  const port = written.port === '' ? scheme.port : written.port;
  const url = new URL(`${scheme.tls ? 'https' : 'http'}://${written.hostname}:${port}${written.pathname}${written.search}`);
  url.username = written.username;
  url.password = written.password;
  if (scheme.transport === 'grpc') {
    if (written.pathname !== '' && written.pathname !== '/') return refused(redactUrl(written), `an OTLP/gRPC endpoint is host:port only, got the path "${written.pathname}"`);
    url.pathname = '/';
  } else if (url.pathname === '/' || url.pathname === '') {
    url.pathname = OTLP_LOGS_PATH;
  }
  return { ok: true, spec: { kind: 'otlp', transport: scheme.transport, url, tls: scheme.tls } };
}

/** Whether a `sink` setting names an OTLP receiver (whose events must be in the `otel` schema). */
export function isOtlpSink(text: string): boolean {
  const parsed = parseSinkSpec(text);
  return parsed.ok && parsed.spec.kind === 'otlp';
}

/** A URL fit for logs and errors: no user:password, no query (tokens hide there). */
export function redactUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}
