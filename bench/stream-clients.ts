/**
 * /v1/stream subscribers for bench/fanout.bench.ts, in a process of their own (so the service's
 * CPU is the service's alone). Started with IPC: opens the subscriptions of its job (argv[2], JSON),
 * reports `{type: "ready", opened, refused}`, then counts what arrives; on `{type: "report"}` it
 * answers `{type: "report", events, dropped}`, on `{type: "close"}` it closes them all and exits.
 */
import { WebSocket } from 'ws';

export interface StreamClientsJob {
  /** ws:// URL of /v1/stream. */
  url: string;
  /** One query string per subscriber ('' for none). */
  queries: string[];
}

export type StreamClientsMessage =
  | { type: 'ready'; opened: number; refused: number }
  | { type: 'report'; events: number; dropped: number };

function open(url: string): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    // 503 past server.maxStreamSubscribers.
    socket.once('unexpected-response', () => resolve(undefined));
    socket.once('error', () => resolve(undefined));
  });
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? '{}') as StreamClientsJob;
  let events = 0;
  let dropped = 0;
  const sockets: WebSocket[] = [];
  let refused = 0;
  for (const query of job.queries) {
    const socket = await open(`${job.url}${query}`);
    if (socket === undefined) {
      refused++;
      continue;
    }
    socket.on('message', (data: Buffer) => {
      if (data[0] === 0x7b && data.subarray(0, 11).toString() === '{"dropped":') {
        dropped += (JSON.parse(data.toString()) as { dropped: number }).dropped;
        return;
      }
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) events++;
    });
    sockets.push(socket);
  }
  const send = (message: StreamClientsMessage) => process.send!(message);
  send({ type: 'ready', opened: sockets.length, refused });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'report') send({ type: 'report', events, dropped });
    if (message.type === 'close') {
      for (const socket of sockets) socket.terminate();
      process.disconnect();
    }
  });
}
