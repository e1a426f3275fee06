/**
 * Optional bearer token on every route but the health probes. The comparison runs on SHA-256
 * digests so it is constant-time whatever the length of what the client sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError, sendApiError } from './errors.ts';

/** Probes must work for the kubelet, which sends no token. */
export const UNAUTHENTICATED_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

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
    if (UNAUTHENTICATED_ROUTES.has(path)) return done();
    const authorization = request.headers.authorization;
    if (bearerTokenMatches(authorization, expected)) return done();
    const error =
      authorization === undefined
        ? new ApiError(401, 'unauthorized', 'authentication required', [{ field: 'authorization', message: 'send "Authorization: Bearer <token>" (server.authToken)' }], {
            'www-authenticate': REALM,
          })
        : new ApiError(401, 'unauthorized', 'invalid token', [{ field: 'authorization', message: 'the bearer token does not match server.authToken' }], {
            'www-authenticate': `${REALM}, error="invalid_token"`,
          });
    sendApiError(reply, error);
  });
}
