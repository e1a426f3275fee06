/**
 * NDJSON to a writable stream (stdout by default). Writes go out one at a time, in call order; a
 * write resolves once the stream has processed its bytes and drained (backpressure).
 */
import type { Writable } from 'node:stream';
import { SinkUnavailableError, type NdjsonChunk, type Sink } from './types.ts';

export function createStreamSink(stream: Writable, name = 'stdout'): Sink {
  let failure: Error | undefined;
  // EPIPE and friends arrive as 'error' events; without a listener they would crash the process.
  const onError = (err: Error): void => {
    failure = err;
  };
  stream.on('error', onError);
  let tail: Promise<void> = Promise.resolve();

  function unavailable(): SinkUnavailableError {
    return new SinkUnavailableError(`${name} sink cannot write: ${failure?.message ?? 'stream closed'}`, 5);
  }

  function writeNow({ bytes: chunk }: NdjsonChunk): Promise<void> {
    if (failure !== undefined || stream.destroyed) return Promise.reject(unavailable());
    return new Promise<void>((resolve, reject) => {
      let written = false;
      let drained = true;
      const settle = (): void => {
        if (written && drained) resolve();
      };
      function onDrain(): void {
        drained = true;
        settle();
      }
      drained = stream.write(chunk, (err) => {
        if (err) {
          failure = err;
          stream.off('drain', onDrain);
          reject(new SinkUnavailableError(`${name} sink write failed: ${err.message}`, 5));
          return;
        }
        written = true;
        settle();
      });
      if (!drained) stream.once('drain', onDrain);
    });
  }

  return {
    get available() {
      return failure === undefined && !stream.destroyed;
    },
    write(chunk) {
      if (failure !== undefined || stream.destroyed) return Promise.reject(unavailable());
      if (chunk.bytes.length === 0) return tail;
      const result = tail.then(() => writeNow(chunk));
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      await tail;
      stream.off('error', onError);
    },
  };
}
