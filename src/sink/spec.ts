/** The `sink` setting: "stdout", "file:PATH" or an http(s):// URL. Pure parsing, no I/O. */
export type SinkSpec =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'http'; url: URL };

export type SinkSpecResult = { ok: true; spec: SinkSpec } | { ok: false; error: string };

const EXPECTED = 'expected "stdout", "file:PATH" or an http:// or https:// URL';

export function parseSinkSpec(text: string): SinkSpecResult {
  const spec = text.trim();
  if (spec === 'stdout') return { ok: true, spec: { kind: 'stdout' } };
  if (spec.startsWith('file:')) {
    // "file:///x" is accepted too, as users write URLs out of habit.
    const path = spec.startsWith('file://') ? decodeURIComponent(spec.slice('file://'.length)) : spec.slice('file:'.length);
    if (path === '') return { ok: false, error: `sink "${text}": the file path is empty; ${EXPECTED}` };
    return { ok: true, spec: { kind: 'file', path } };
  }
  if (/^https?:\/\//i.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      return { ok: false, error: `sink "${redactUrl(spec)}": not a valid URL; ${EXPECTED}` };
    }
    if (url.hostname === '') return { ok: false, error: `sink "${redactUrl(spec)}": the URL has no host` };
    return { ok: true, spec: { kind: 'http', url } };
  }
  return { ok: false, error: `sink "${text}" is not recognised; ${EXPECTED}` };
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
