/** `server.listen` addresses: "host:port" or "[v6]:port"; a host is always required. */

export interface ListenAddress {
  /** Without brackets, ready for net.Server#listen ("127.0.0.1", "::1", "localhost"). */
  host: string;
  /** 0 picks a free port (tests, demo). */
  port: number;
}

export type ListenResult = { ok: true; value: ListenAddress } | { ok: false; message: string };

export const LISTEN_EXAMPLES = '"127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080"';

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const IPV6 = /^[0-9a-fA-F:.]+(?:%[\w.-]+)?$/;

export function parseListenAddress(input: string): ListenResult {
  const text = input.trim();
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, message: 'bad listen address: missing "]" after the IPv6 address' };
    host = text.slice(1, close);
    if (text[close + 1] !== ':') return { ok: false, message: 'bad listen address: missing ":port"' };
    portText = text.slice(close + 2);
    if (!IPV6.test(host) || !host.includes(':')) return { ok: false, message: `bad listen address: "${host}" is not an IPv6 address` };
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return { ok: false, message: 'bad listen address: missing ":port"' };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return { ok: false, message: 'bad listen address: put an IPv6 address in brackets, as in "[::1]:8080"' };
    // An empty host would bind every interface; the service binds loopback unless told otherwise.
    if (host === '') return { ok: false, message: 'bad listen address: missing host, write "0.0.0.0:PORT" to listen on every interface' };
    if (!IPV4.test(host) && (/^[\d.]+$/.test(host) || !HOSTNAME.test(host))) {
      return { ok: false, message: `bad listen address: "${host}" is not an IP address or host name` };
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, message: `bad listen address: port "${portText}" is not a number` };
  const port = Number(portText);
  if (port > 65535) return { ok: false, message: `bad listen address: port ${port} is out of range 0-65535` };
  return { ok: true, value: { host, port } };
}
