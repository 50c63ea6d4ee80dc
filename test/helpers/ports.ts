import { createServer, type Server } from 'node:net';

/** `count` distinct TCP ports nothing listens on right now (the OS picks them, all held at once). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.unref();
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (typeof address !== 'object' || !address) throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((closed) => s.close(closed))));
  return ports;
}

/** A TCP port nothing listens on right now (the OS picks it). */
export const freePort = async (): Promise<number> => (await freePorts(1))[0] as number;
