/** Loopback ports for tests of what happens when nothing answers. */
import { createServer, type AddressInfo } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago and that nothing listens on now. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
