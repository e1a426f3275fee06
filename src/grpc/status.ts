/** The gRPC statuses the services answer with, in one place so both say the same. */
import * as grpc from '@grpc/grpc-js';
import { encodeStatusWithRetryInfo } from '../otlp/proto.ts';

export type Failure = Partial<grpc.StatusObject> & { code: grpc.status; details: string };

/** A call's end, thrown where a handler's promise chain decides it. */
export class GrpcFailure extends Error {
  readonly status: Failure;
  constructor(status: Failure) {
    super(status.details);
    this.name = 'GrpcFailure';
    this.status = status;
  }
}

export function failure(code: grpc.status, details: string): Failure {
  return { code, details };
}

/** UNAVAILABLE with a google.rpc.RetryInfo in `grpc-status-details-bin`, so clients wait that long. */
export function unavailable(details: string, retryAfterSeconds: number): Failure {
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(encodeStatusWithRetryInfo({ code: grpc.status.UNAVAILABLE, message: details }, retryAfterSeconds)));
  return { code: grpc.status.UNAVAILABLE, details, metadata };
}

/** Seconds a call refused for want of room in server.maxInflightBytes waits (as HTTP's Retry-After). */
const BUSY_RETRY_SECONDS = 1;

export function busy(limit: number, waitMs: number): Failure {
  return unavailable(
    `the service is enriching as much as it may at once: requests being enriched held ${limit} bytes (server.maxInflightBytes) ` +
      `for the ${waitMs / 1000} s this one waited (server.maxInflightWait); retry later`,
    BUSY_RETRY_SECONDS,
  );
}

export const SHUTTING_DOWN_RETRY_SECONDS = 1;

export function internal(): Failure {
  return failure(grpc.status.INTERNAL, 'internal error (see the service log)');
}
