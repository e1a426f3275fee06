/**
 * The live-tail page: GET / answers the page, GET /ui/<version>/<file> its scripts and styles.
 * Not part of the API document. Both need no token (they hold no data; the page asks for the token
 * and sends it with its own requests). Every answer carries a strict Content-Security-Policy:
 * scripts and styles from this origin only, nothing inline, no frames, no plugins.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiError } from '../errors.ts';
import type { UiAssets } from './assets.ts';

export const PAGE_ROUTE = '/';
const ASSET_ROUTE = '/ui/:version/:file';

/** `'self'` covers ws: and wss: to the same host (CSP Level 3), which /v1/stream needs. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function secureHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin');
}

export function uiRoutes(assets: UiAssets): FastifyPluginAsync {
  return async (app) => {
    app.route({
      method: 'GET',
      url: PAGE_ROUTE,
      schema: { hide: true },
      // Revalidated every time: it names the current asset version.
      handler: async (_request, reply) => secureHeaders(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(assets.index),
    });
    app.route({
      method: 'GET',
      url: ASSET_ROUTE,
      schema: { hide: true },
      handler: async (request, reply) => {
        const { version, file } = request.params as { version: string; file: string };
        const asset = version === assets.version ? assets.files.get(file) : undefined;
        if (asset === undefined) {
          const hint = version === assets.version ? `no file ${file}` : 'an asset of another version of the page: reload it';
          throw new ApiError(404, 'not_found', 'not found', [{ field: 'path', message: hint }]);
        }
        return secureHeaders(reply).type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
      },
    });
  };
}
