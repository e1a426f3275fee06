import { bodySnippet, DELIVERY_BACKOFF, isRetryableStatus } from '../sink/index.ts';

/** An answer from the service, or none. `permanent` when retrying the same batch cannot help (bad token, bad request). */
export class RemoteServiceError extends Error {
  readonly code = 'service_unavailable';
  readonly permanent: boolean;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options: { permanent: boolean; status?: number; retryAfterSeconds?: number }) {
    super(message);
    this.name = 'RemoteServiceError';
    this.permanent = options.permanent;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The service answered with an error status (to a POST, or to the WebSocket upgrade): permanent unless retrying can help. */
export function serviceRefused(where: string, status: number, body: string, retryAfter: number | undefined): RemoteServiceError {
  const permanent = !isRetryableStatus(status);
  const hint = status === 401 || status === 403 ? ' (check serviceToken / serviceTokenFile)' : '';
  return new RemoteServiceError(`enrichment service ${where} answered HTTP ${status}${hint}: ${bodySnippet(body)}`, {
    permanent,
    status,
    retryAfterSeconds: retryAfter ?? (permanent ? DELIVERY_BACKOFF.maxMs / 1000 : undefined),
  });
}
