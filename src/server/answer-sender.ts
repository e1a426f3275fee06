/**
 * Sends a /v1/enrich answer without ever holding it whole. A small answer goes out in one pooled
 * buffer, with Content-Length, as any other reply. A larger one is streamed (chunked transfer
 * encoding) in parts of about `partBytes`: each part is a pooled buffer, handed back once the
 * socket has taken its bytes, and the next part is written only once the client has read the
 * previous one (backpressure). A client that stops reading for `sendTimeoutMs` loses its
 * connection, and with it what its answer held (its records, its share of maxInflightBytes).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ByteWriterPool } from '../enrich/index.ts';
import type { AnswerEncoder } from './batch-codec.ts';

export interface AnswerSenderOptions {
  writers: ByteWriterPool;
  /** Answers up to this size go out in one buffer; larger ones in parts of about this size. */
  partBytes: number;
  sendTimeoutMs: number;
  /** True once the server shuts down: the answer then closes its connection. */
  closing: () => boolean;
}

/** The reply when it was sent as a whole (return it from the handler); undefined when streamed. */
export async function sendAnswer(reply: FastifyReply, encoder: AnswerEncoder, options: AnswerSenderOptions): Promise<FastifyReply | undefined> {
  const { writers } = options;
  let writer = writers.take();
  let last = encoder.next(writer, options.partBytes);
  if (last) {
    const whole = writer;
    // Handed back once the response is out (only then: never on an aborted one).
    reply.raw.once('finish', () => writers.give(whole));
    return reply.send(whole.lend());
  }
  // From here on the response is ours, not Fastify's: headers as set on the reply, then the parts.
  reply.hijack();
  const res = reply.raw;
  if (options.closing()) reply.header('connection', 'close');
  res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  for (;;) {
    const part = writer;
    const room = res.write(part.lend(), (err) => {
      if (err === undefined || err === null) writers.give(part);
    });
    if (last) {
      res.end();
      return undefined;
    }
    if (!room && !(await drained(res, options.sendTimeoutMs))) {
      reply.log.debug({ sendTimeoutMs: options.sendTimeoutMs }, 'the client stopped reading its answer: connection closed');
      res.destroy();
      return undefined;
    }
    if (res.destroyed) return undefined;
    writer = writers.take();
    last = encoder.next(writer, options.partBytes);
  }
}

/** True once the response drains; false when it closes first or `timeoutMs` passes without. */
function drained(res: ServerResponse, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
