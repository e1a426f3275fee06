/**
 * Optional bearer token on every route but the health probes. The comparison runs on SHA-256
 * digests so it is constant-time whatever the length of what the client sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError, sendApiError } from './errors.ts';

/**
 * Probes must work for the kubelet, which sends no token; the page and its static assets hold no
 * data and must load before the user has typed the token in.
 */
export const UNAUTHENTICATED_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/']);
const UNAUTHENTICATED_PREFIX = '/ui/';

/**
 * A browser cannot set headers on a WebSocket: the page offers two subprotocols instead, the
 * API's (which the service picks, so the token is never echoed) and `kle.bearer.<base64url token>`.
 * Headers are not logged (and this one is redacted), unlike URLs.
 */
export const WS_SUBPROTOCOL = 'kle.v1';
export const WS_BEARER_PREFIX = 'kle.bearer.';

/** The token offered in a Sec-WebSocket-Protocol header, if any. */
export function bearerFromSubprotocols(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const offered of header.split(',')) {
    const protocol = offered.trim();
    if (protocol.startsWith(WS_BEARER_PREFIX)) return Buffer.from(protocol.slice(WS_BEARER_PREFIX.length), 'base64url').toString('utf8');
  }
  return undefined;
}

/** ws's handleProtocols: the API's subprotocol when offered, never the one carrying the token. */
export function selectSubprotocol(offered: Set<string>): string | false {
  return offered.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false;
}

const REALM = 'Bearer realm="kube-log-enricher"';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** True when `authorization` carries exactly the expected token (scheme case-insensitive). */
export function bearerTokenMatches(authorization: string | undefined, expectedDigest: Buffer): boolean {
  if (authorization === undefined) return false;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  const presented = match?.[1];
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), expectedDigest);
}

export function installBearerAuth(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?', 1)[0] ?? '';
    if (UNAUTHENTICATED_ROUTES.has(path) || path.startsWith(UNAUTHENTICATED_PREFIX)) return done();
    const authorization = request.headers.authorization;
    if (bearerTokenMatches(authorization, expected)) return done();
    const offered = authorization === undefined ? bearerFromSubprotocols(request.headers['sec-websocket-protocol']) : undefined;
    if (offered !== undefined && timingSafeEqual(digest(offered), expected)) return done();
    const error =
      authorization === undefined && offered === undefined
        ? new ApiError(401, 'unauthorized', 'authentication required', [{ field: 'authorization', message: 'send "Authorization: Bearer <token>" (server.authToken)' }], {
            'www-authenticate': REALM,
          })
        : new ApiError(401, 'unauthorized', 'invalid token', [{ field: 'authorization', message: 'the bearer token does not match server.authToken' }], {
            'www-authenticate': `${REALM}, error="invalid_token"`,
          });
    sendApiError(reply, error);
  });
}
