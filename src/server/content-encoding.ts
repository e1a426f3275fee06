/**
 * Request bodies sent with `Content-Encoding` (Vector's `compression`, Fluent Bit's `compress`)
 * are decoded as they stream in, before the content-type parsers read them. The body limit
 * applies to the decoded bytes too, so a small compressed body that inflates to gigabytes (a
 * "zip bomb") is cut off at server.maxBodyBytes with a 413, never held in memory.
 */
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';

/** The codings node:zlib decodes. Snappy (Vector, Fluent Bit) has no decoder there: 415. */
const DECODERS = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  // HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2), which Vector's `compression: zlib` sends.
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  zstd: () => zlib.createZstdDecompress(),
} as const;

type Coding = keyof typeof DECODERS;

export const SUPPORTED_CONTENT_ENCODINGS: readonly string[] = ['gzip', 'deflate', 'br', 'zstd', 'identity'];

function isCoding(name: string): name is Coding {
  return Object.hasOwn(DECODERS, name);
}

/** The one coding to undo, undefined for none/identity; a 415 ApiError for anything else. */
export function contentCodingOf(header: string | undefined): Coding | undefined {
  if (header === undefined) return undefined;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  const unknown = codings.filter((c) => !isCoding(c));
  if (unknown.length > 0) {
    throw new ApiError(415, 'unsupported_encoding', `unsupported Content-Encoding: ${unknown.join(', ')}`, [
      {
        field: 'content-encoding',
        message: `${unknown.join(', ')} cannot be decoded; send the body uncompressed or with one of: ${SUPPORTED_CONTENT_ENCODINGS.join(', ')}`,
      },
    ]);
  }
  if (codings.length > 1) {
    throw new ApiError(415, 'unsupported_encoding', `unsupported Content-Encoding: ${codings.join(', ')}`, [
      { field: 'content-encoding', message: 'one content coding at a time: compress the body once' },
    ]);
  }
  return codings[0] as Coding;
}

/**
 * The decoded body: counts decoded bytes against the limit, and exposes the encoded bytes read
 * so far as `receivedEncodedLength` (Fastify compares that, not the decoded size, with
 * Content-Length, and checks it against the limit as well).
 */
class LimitedBody extends Transform {
  receivedEncodedLength = 0;
  #decodedBytes = 0;
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#decodedBytes += chunk.length;
    if (this.#decodedBytes > this.#limit || this.receivedEncodedLength > this.#limit) {
      callback(tooLarge(this.#limit, this.#decodedBytes > this.#limit ? 'once decoded' : 'compressed'));
      return;
    }
    callback(null, chunk);
  }
}

function tooLarge(limit: number, how: 'once decoded' | 'compressed'): ApiError {
  return new ApiError(413, 'body_too_large', `request body is larger than ${limit} bytes ${how}`, [
    { field: 'content-encoding', message: `split the batch: at most ${limit} bytes per request after decompression (server.maxBodyBytes)`, limit },
  ]);
}

function undecodable(coding: Coding, err: Error): ApiError {
  return new ApiError(400, 'malformed_body', `request body does not decode as Content-Encoding: ${coding}`, [
    { field: 'content-encoding', message: `${err.message}; send the body compressed with ${coding}, or drop the Content-Encoding header` },
  ]);
}

/** `raw` decoded with `coding`, cut off with a 413 above `limit` decoded or encoded bytes. */
export function decodedBody(raw: Readable, coding: Coding, limit: number): Readable & { receivedEncodedLength: number } {
  const decoder = DECODERS[coding]();
  const body = new LimitedBody(limit);
  raw.on('data', (chunk: Buffer) => {
    body.receivedEncodedLength += chunk.length;
  });
  const stopReading = (): void => {
    raw.unpipe(decoder);
    decoder.destroy();
    // The rest of the request is read and discarded, so the answer can still be sent.
    raw.resume();
  };
  decoder.on('error', (err) => {
    stopReading();
    body.destroy(undecodable(coding, err));
  });
  raw.on('error', (err) => {
    stopReading();
    body.destroy(err);
  });
  // Above the limit: stop inflating the rest of a bomb. Being a listener, this also keeps an error
  // raised after the body parser stopped listening (it has answered) from crashing the process.
  body.on('error', stopReading);
  raw.pipe(decoder).pipe(body);
  return body;
}

/** A preParsing hook for the routes of `app` (an encapsulated plugin): decodes compressed bodies. */
export function installContentDecoding(app: FastifyInstance, maxBodyBytes: number): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const coding = contentCodingOf(request.headers['content-encoding']);
    if (coding === undefined) return payload;
    return decodedBody(payload, coding, maxBodyBytes);
  });
}
