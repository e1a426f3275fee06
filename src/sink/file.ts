/**
 * Appends NDJSON to a file. A write resolves once the bytes are in the file (the kernel's page
 * cache: they survive the process being killed). With `fsync: true` it also waits for the disk
 * (fdatasync), which survives a power loss too but costs a disk flush per batch.
 *
 * A process killed in the middle of a batch's write leaves part of it in the file (Linux cuts a
 * write short on SIGKILL), its last line torn. That batch was not acknowledged, so it is written
 * again after the restart; but appended straight after the torn line, the first line of the next
 * write would be glued to it and lost in one unparsable line. So a file that does not end with a
 * newline when it is opened gets one first: the torn line stays alone (docs/file-source.md).
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SinkUnavailableError, type NdjsonChunk, type Sink } from './types.ts';

export interface FileSinkOptions {
  fsync?: boolean;
}

const NEWLINE = Buffer.from('\n');

/** Ends a torn last line (a write cut short by a crash) with a newline. */
async function terminateTornLine(handle: FileHandle): Promise<void> {
  const { size } = await handle.stat();
  if (size === 0) return;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  if (last[0] !== 0x0a) await handle.write(NEWLINE);
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
      const opened = await open(absolute, 'a+');
      try {
        await terminateTornLine(opened);
      } catch (err) {
        await opened.close().catch(() => undefined);
        throw err;
      }
      handle = opened;
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

