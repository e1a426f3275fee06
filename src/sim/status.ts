/** meta/v1 Status objects, shaped as the real API server sends them for failures. */

export interface StatusDetails {
  name?: string;
  kind?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface StatusJson {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function reasonFor(code: number): string {
  return REASON_BY_CODE[code] ?? 'Unknown';
}

export function failureStatus(code: number, message: string, details?: StatusDetails, reason = reasonFor(code)): StatusJson {
  // Key order as the real server writes it: details before code.
  return details
    ? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code }
    : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** What a watch or an exact list says for a resourceVersion older than the kept history. */
export function expiredStatus(rv: string | number, floor: number): StatusJson {
  return failureStatus(410, `too old resource version: ${rv} (${floor})`, undefined, 'Expired');
}

export function tooLargeStatus(rv: number, current: number): StatusJson {
  return failureStatus(504, `Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}
