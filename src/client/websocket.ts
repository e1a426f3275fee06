/**
 * `source` with `transport: websocket`: raw events go to the service's /v1/ingest over one
 * long-lived WebSocket in acknowledged mode (`?ack=true`, see src/protocol/ack.ts):
 * each batch is one message, and its answer, the only frame that answers it, starts with a line
 * naming the message and how many enriched events follow. Only then is the batch done, so a
 * batch that is wholly excluded is acknowledged too, and one that is not answered (the service
 * went away, a timeout) fails and is retried by the delivery pipeline on a new connection, never
 * half-written. One batch is in flight at a time, as the pipeline sends them.
 */
import { WebSocket, type RawData } from 'ws';
import type { DecodedMessage } from '../enrich/index.ts';
import { DEFAULT_FIELDS, INGEST_ACK_QUERY, INGEST_ROUTE, MESSAGE_TOO_BIG, NO_JOIN_QUERY, quoteFields, readAckLine, serialiseRawEvent, type AckLine } from '../protocol/index.ts';
import { redactUrl, retryAfterSeconds, type NdjsonChunk } from '../sink/index.ts';
import type { BatchEnricher, SourceBatch } from '../source/index.ts';
import { RemoteServiceError, serviceRefused } from './errors.ts';
import { serviceUrl, type RemoteStageOptions } from './options.ts';

class MessageTooBig extends Error {}

/** An answer: its acknowledgement line and the enriched events after it. */
interface Answer {
  line: AckLine;
  events: Buffer;
}

interface Waiting {
  seq: number;
  resolve: (answer: Answer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One open socket and the batch waiting for its answer. */
class IngestSocket {
  readonly socket: WebSocket;
  sent = 0;
  waiting: Waiting | undefined;
  failure: Error | undefined;

  constructor(socket: WebSocket, where: string) {
    this.socket = socket;
    socket.on('message', (data: RawData) => this.#onAnswer(toBuffer(data), where));
    socket.on('close', (code: number, reason: Buffer) => {
      const text = reason.toString('utf8');
      this.fail(
        code === MESSAGE_TOO_BIG
          ? new MessageTooBig(`enrichment service ${where} closed the connection: message too big (${code})`)
          : new RemoteServiceError(`enrichment service ${where} closed the connection (${code}${text === '' ? '' : ` ${text}`})`, { permanent: false }),
      );
    });
    socket.on('error', (err: Error) => this.fail(new RemoteServiceError(`enrichment service ${where}: ${err.message}`, { permanent: false })));
  }

  fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
  }

  #onAnswer(data: Buffer, where: string): void {
    const answer = readAckLine(data);
    if (answer === undefined) {
      this.fail(new RemoteServiceError(`enrichment service ${where} sent an answer without an acknowledgement line (is it kube-log-enricher?)`, { permanent: false }));
      return;
    }
    const header = answer.line;
    if (header.ack === null) return; // lines flushed at the service's shutdown: never ours, we send no partial lines
    const w = this.waiting;
    if (w === undefined || header.ack !== w.seq) {
      this.fail(new RemoteServiceError(`enrichment service ${where} acknowledged message ${String(header.ack)}, expected ${String(w?.seq)}`, { permanent: false }));
      return;
    }
    this.waiting = undefined;
    clearTimeout(w.timer);
    w.resolve(answer);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export function createRemoteWebSocketStage(options: RemoteStageOptions): BatchEnricher & { close(): void } {
  const url = serviceUrl(options.service, `${INGEST_ROUTE}?${INGEST_ACK_QUERY}${options.joined === true ? `&${NO_JOIN_QUERY}` : ''}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const where = redactUrl(url);
  const quoted = quoteFields(options.fields ?? DEFAULT_FIELDS);
  const headers: Record<string, string> = {};
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let current: IngestSocket | undefined;
  let closed = false;

  function open(): Promise<IngestSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new RemoteServiceError(`enrichment service ${where} unreachable: ${err.code ?? 'error'} ${err.message}`, { permanent: false }));
      };
      socket.once('error', onError);
      socket.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 500) body += chunk;
        });
        res.on('end', () => {
          reject(serviceRefused(where, status, body, retryAfterSeconds(res.headers)));
          socket.terminate(); // after the reject: the 'error' it causes must not win
        });
      });
      socket.once('open', () => {
        socket.off('error', onError);
        resolve(new IngestSocket(socket, where));
      });
    });
  }

  async function connection(): Promise<IngestSocket> {
    if (closed) throw new RemoteServiceError(`the connection to ${where} is closed`, { permanent: false });
    if (current === undefined || current.failure !== undefined) current = await open();
    return current;
  }

  async function exchange(body: string): Promise<Answer> {
    const c = await connection();
    const seq = ++c.sent;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => c.fail(new RemoteServiceError(`enrichment service ${where} did not answer within ${timeoutMs} ms`, { permanent: false })), timeoutMs);
      c.waiting = { seq, resolve, reject, timer };
      c.socket.send(body, { binary: false }, (err) => {
        if (err !== undefined && err !== null) c.fail(new RemoteServiceError(`enrichment service ${where}: ${err.message}`, { permanent: false }));
      });
    });
  }

  async function send(files: readonly string[], messages: readonly DecodedMessage[]): Promise<NdjsonChunk> {
    let body = '';
    for (let i = 0; i < files.length; i++) body += serialiseRawEvent(files[i]!, messages[i]!, quoted) + '\n';
    let answer: Answer;
    try {
      answer = await exchange(body);
    } catch (err) {
      if (!(err instanceof MessageTooBig)) throw err;
      if (files.length <= 1) throw new RemoteServiceError(`${err.message}: one event is larger than the service's server.maxBodyBytes`, { permanent: true });
      // Over the service's message limit: the halves go one after the other, on a new connection.
      options.logger?.debug({ service: where, events: files.length }, "a batch over the service's message limit (server.maxBodyBytes): sending it in halves");
      const half = files.length >> 1;
      const first = await send(files.slice(0, half), messages.slice(0, half));
      const second = await send(files.slice(half), messages.slice(half));
      return { bytes: Buffer.concat([first.bytes, second.bytes]), events: first.events + second.events };
    }
    const header = answer.line;
    if (header.error !== undefined) {
      throw new RemoteServiceError(`enrichment service ${where} could not read the batch: ${header.error} ${JSON.stringify(header.details ?? [])}`, { permanent: true });
    }
    if (header.errors !== undefined && header.errors.length > 0) options.logger?.warn({ service: where, errors: header.errors.length, details: header.errors.slice(0, 10) }, 'the service reported invalid events');
    return { bytes: answer.events, events: header.events };
  }

  return {
    name: 'service',
    processBatch(batch: SourceBatch) {
      return send(batch.files, batch.messages);
    },
    close() {
      closed = true;
      current?.socket.close(1000, 'source stopping');
      current?.fail(new RemoteServiceError(`the connection to ${where} is closed`, { permanent: false }));
    },
  };
}
