/**
 * An HTTP(S) server on 127.0.0.1 that can go down (open connections destroyed, new ones refused)
 * and come back on the same port: what the simulated API server and kubelet are served by.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export class LoopbackServer {
  readonly #create: () => Server;
  readonly #sockets = new Set<Socket>();
  /** Bytes written to sockets that have closed; open ones are added when asked. */
  #closedBytes = 0;
  #server: Server | undefined;
  #port: number;

  /** `create` makes a new, not yet listening server each time it comes up. */
  constructor(create: () => Server, port = 0) {
    this.#create = create;
    this.#port = port;
  }

  /** The bound port once listening (0 before, when it was asked to pick one). */
  get port(): number {
    return this.#port;
  }

  /** Bytes sent to clients since start (headers and bodies), over every connection so far. */
  get bytesWritten(): number {
    let bytes = this.#closedBytes;
    for (const socket of this.#sockets) bytes += socket.bytesWritten;
    return bytes;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  async listen(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = this.#create();
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        this.#closedBytes += socket.bytesWritten;
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address !== null && typeof address === 'object') this.#port = address.port;
    this.#server = server;
  }

  /** Down: every connection destroyed, the port closed; listen() brings it back on the same port. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
