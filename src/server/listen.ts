/**
 * Puts a built app on the network, plain or TLS, and takes it off gracefully: no new connections,
 * WebSocket clients told 1001 (going away), in-flight requests answered, then the sockets closed.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { parseListenAddress } from '../config/listen.ts';

export interface TlsMaterial {
  /** PEM certificate chain. */
  cert: string | Buffer;
  /** PEM private key. Never logged. */
  key: string | Buffer;
}

export interface StartServerOptions {
  /** "127.0.0.1:8080" or "[::1]:8080" (`server.listen`); port 0 picks a free port. */
  listen: string;
  tls?: TlsMaterial | undefined;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 (the actual port when 0 was asked for). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Graceful close; resolves once every connection is gone. Safe to call twice. */
  close(): Promise<void>;
}

export class ListenError extends Error {
  readonly code = 'invalid_listen_address';
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** How long in-flight requests get to finish on shutdown before their connections are cut. */
const DRAIN_TIMEOUT_MS = 10_000;

function baseUrl(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startServer(app: FastifyInstance, options: StartServerOptions): Promise<RunningServer> {
  const parsed = parseListenAddress(options.listen);
  if (!parsed.ok) throw new ListenError(parsed.message);
  const { host, port } = parsed.value;
  if (options.tls === undefined) {
    await app.listen({ host, port });
    const address = app.server.address() as AddressInfo;
    let closing: Promise<void> | undefined;
    return {
      url: baseUrl('http', host, address.port),
      host,
      port: address.port,
      close: () => (closing ??= app.close()),
    };
  }
  return startTls(app, host, port, options.tls);
}

/**
 * TLS is terminated by a tls.Server that hands each decrypted socket to the app's own HTTP
 * server, so routing, hooks and WebSocket upgrades are the same as in plain mode. The app's
 * server never listens itself, so this side tracks connections to close them on shutdown.
 */
async function startTls(app: FastifyInstance, host: string, port: number, material: TlsMaterial): Promise<RunningServer> {
  await app.ready();
  // Node's HTTP server starts enforcing headersTimeout and requestTimeout (a timer checking its
  // connections) on 'listening'; this one never listens itself, so it is told.
  app.server.emit('listening');
  const connections = new Map<Socket, { requests: number; upgraded: boolean }>();
  let shuttingDown = false;
  let allClosed: (() => void) | undefined;

  const tlsServer: TlsServer = createTlsServer({ cert: material.cert, key: material.key, ALPNProtocols: ['http/1.1'] }, (socket: TLSSocket) => {
    if (shuttingDown) {
      socket.destroy();
      return;
    }
    connections.set(socket, { requests: 0, upgraded: false });
    socket.once('close', () => {
      connections.delete(socket);
      if (connections.size === 0) allClosed?.();
    });
    app.server.emit('connection', socket);
  });
  // A failed handshake is the client's problem; it must not become an unhandled error.
  tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());

  app.server.on('upgrade', (request) => {
    const state = connections.get(request.socket);
    if (state !== undefined) state.upgraded = true;
  });
  app.server.on('request', (request, response) => {
    const socket = request.socket;
    const state = connections.get(socket);
    if (state === undefined) return;
    state.requests++;
    response.once('close', () => {
      state.requests--;
      if (shuttingDown && state.requests === 0 && !state.upgraded) socket.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen(port, host, () => {
      tlsServer.off('error', reject);
      resolve();
    });
  });
  const address = tlsServer.address() as AddressInfo;

  async function close(): Promise<void> {
    shuttingDown = true;
    const stopped = new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    // Idle keep-alive connections go now, busy ones once their last answer is out; WebSocket
    // connections are closed by the app (1001).
    for (const [socket, state] of connections) if (state.requests === 0 && !state.upgraded) socket.end();
    await app.close();
    if (connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
        allClosed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const socket of connections.keys()) socket.destroy();
    // Stops the HTTP server's timeout checks (it is not listening: nothing else to close).
    app.server.close();
    await stopped;
  }
  let closing: Promise<void> | undefined;
  return { url: baseUrl('https', host, address.port), host, port: address.port, close: () => (closing ??= close()) };
}
