/**
 * Dead WebSocket peers are found by ping/pong: every interval each open client is pinged, and a
 * client that has not answered the previous ping by then is cut off. A peer that vanished without
 * closing its TCP connection (a node gone, a NAT entry dropped) would otherwise hold its
 * subscription or ingest session, and what is queued for it, for ever. Clients answer pings on
 * their own (every WebSocket library does), whether or not they send anything.
 */
import type { WebSocket, WebSocketServer } from 'ws';

export class WebSocketHeartbeat {
  readonly #server: WebSocketServer;
  readonly #intervalMs: number;
  /** Pinged and not answered yet. */
  readonly #waiting = new WeakSet<WebSocket>();
  #timer: NodeJS.Timeout | undefined;
  #terminated = 0;

  readonly #onConnection = (client: WebSocket): void => {
    client.on('pong', () => this.#waiting.delete(client));
  };

  constructor(server: WebSocketServer, intervalMs: number) {
    this.#server = server;
    this.#intervalMs = intervalMs;
  }

  /** Peers cut off for not answering (for tests and logs). */
  get terminated(): number {
    return this.#terminated;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#server.on('connection', this.#onConnection);
    this.#timer = setInterval(() => this.#beat(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#server.off('connection', this.#onConnection);
  }

  #beat(): void {
    for (const client of this.#server.clients) {
      if (client.readyState !== client.OPEN) continue;
      if (this.#waiting.has(client)) {
        this.#terminated++;
        client.terminate();
        continue;
      }
      this.#waiting.add(client);
      client.ping();
    }
  }
}
