// Talking to the service: requests carry the token (kept in sessionStorage: gone when the tab
// closes) in an Authorization header; the WebSocket, which cannot carry headers from a browser,
// offers it as a subprotocol (never in the URL, which servers and proxies log).

const TOKEN_KEY = 'kube-log-enricher.token';

/** A value the service wrote into the page (src/server/ui/assets.ts), read when first needed. */
function setting(name) {
  return document.querySelector(`meta[name="kle-${name}"]`)?.content ?? '';
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(value) {
  if (value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

export class Unauthorized extends Error {}

/** The error body's first detail, else its summary. */
async function errorText(response) {
  try {
    const body = await response.json();
    const detail = body.details?.[0];
    return detail === undefined ? body.error : `${detail.field === undefined ? '' : detail.field + ': '}${detail.message}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

/** GET path; JSON or text answer. Throws Unauthorized on 401, Error(message) on other failures. */
export async function get(path, as = 'json') {
  const headers = token() === '' ? {} : { authorization: `Bearer ${token()}` };
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized(await errorText(response));
  if (!response.ok) throw new Error(await errorText(response));
  return as === 'json' ? response.json() : response.text();
}

function base64url(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function openStream(query) {
  const url = new URL(setting('stream-route'), location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = query.toString();
  const protocols = [setting('ws-protocol')];
  if (token() !== '') protocols.push(setting('ws-bearer-prefix') + base64url(token()));
  return new WebSocket(url, protocols);
}
