/**
 * Appends NDJSON to a file. A write resolves once the bytes are in the file (the kernel's page
 * cache: they survive the process being killed). With `fsync: true` it also waits for the disk
 * (fdatasync), which survives a power loss too but costs a disk flush per batch.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SinkUnavailableError, type NdjsonChunk, type Sink } from './types.ts';

export interface FileSinkOptions {
  fsync?: boolean;
}

export function createFileSink(path: string, options: FileSinkOptions = {}): Sink {
  const absolute = resolve(path);
  let handle: FileHandle | undefined;
  let failing = false;
  let closed = false;
  // Writes are chained so that concurrent callers append in call order.
  let tail: Promise<void> = Promise.resolve();

  async function appendAll({ bytes: chunk }: NdjsonChunk): Promise<void> {
    if (handle === undefined) {
      await mkdir(dirname(absolute), { recursive: true });
      handle = await open(absolute, 'a');
    }
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
    if (options.fsync === true) await handle.datasync();
  }

  return {
    get available() {
      return !failing && !closed;
    },
    write(chunk) {
      if (closed) return Promise.reject(new SinkUnavailableError(`file sink ${absolute} is closed`, 5));
      if (chunk.bytes.length === 0) return tail;
      const result = tail.then(
        () => appendAll(chunk),
        () => appendAll(chunk),
      ).then(
        () => {
          failing = false;
        },
        (err: NodeJS.ErrnoException) => {
          failing = true;
          // Reopen next time: the file or its directory may have been fixed meanwhile.
          const old = handle;
          handle = undefined;
          void old?.close().catch(() => undefined);
          throw new SinkUnavailableError(`file sink cannot append to ${absolute}: ${err.code ?? ''} ${err.message}`.trim(), 5);
        },
      );
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      closed = true;
      await tail;
      await handle?.close();
      handle = undefined;
    },
  };
}

