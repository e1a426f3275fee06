/**
 * Graceful close for WebSocket clients: each connection is told to go away (1001) after sending
 * what it still holds; those that do not finish the close handshake in time are cut off.
 */
import type { WebSocket, WebSocketServer } from 'ws';

export interface ClosableConnection {
  /** Send what is pending, then close with 1001; a promise when that takes a while (an answer still going out). */
  shutdown(): void | Promise<void>;
}

export class WebSocketConnections {
  readonly #open = new Set<ClosableConnection>();

  add(connection: ClosableConnection): () => void {
    this.#open.add(connection);
    return () => {
      this.#open.delete(connection);
    };
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Closes every client of `server`: each connection first finishes what it sends (at most
   * `timeoutMs`), then each client gets at most `timeoutMs` for the close handshake.
   */
  async closeAll(server: WebSocketServer, timeoutMs: number): Promise<void> {
    const finishing = [...this.#open].map((connection) => connection.shutdown());
    this.#open.clear();
    await within(Promise.all(finishing), timeoutMs);
    for (const client of server.clients) {
      if (client.readyState === client.OPEN) client.close(1001, 'server shutting down');
    }
    await Promise.all([...server.clients].map((client) => closedWithin(client, timeoutMs)));
  }
}

function within(work: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  return Promise.race([work.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

function closedWithin(client: WebSocket, timeoutMs: number): Promise<void> {
  if (client.readyState === client.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    // terminate() destroys the socket; 'close' follows on the next turns of the loop.
    const timer = setTimeout(() => client.terminate(), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
