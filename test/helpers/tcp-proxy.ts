import { createServer, type Server, Socket } from 'node:net';

/**
 * - `pass`: bytes flow both ways.
 * - `refuse`: nothing listens (new connections get ECONNREFUSED) and every open connection is
 *   reset, as when the database host goes down.
 * - `blackhole`: connections are accepted, new and open ones alike, and not a byte is forwarded
 *   in either direction, as in a network partition: the client hears nothing until its own
 *   timeouts fire.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export interface TcpProxy {
  port: number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): Promise<void>;
  /** Connections open now, through the proxy (zombies of a black hole included). */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Black-holed once: the peer state is lost for good, as after a long partition. */
  dead: boolean;
}

/**
 * A TCP proxy on a random loopback port in front of `{ host, port }`, whose link can be cut
 * (refused or black-holed) and restored, to see how a client of the target copes.
 *
 * A connection that was black-holed stays dead after `pass` (its client side stays open and
 * silent; its upstream side is closed so the server frees the session): the client must notice
 * and discard it by itself. Only new connections pass again.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const pairs = new Set<Pair>();

  const connectUpstream = (pair: Pair) => {
    const upstream = createConnection(target, pair);
    pair.upstream = upstream;
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
  };

  const server: Server = createServer((client) => {
    const pair: Pair = { client, upstream: undefined, dead: false };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'blackhole') {
      blackhole(pair);
      return;
    }
    connectUpstream(pair);
  });
  server.on('error', () => {});

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as { port: number }).port;

  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  return {
    port,
    mode: () => mode,
    async setMode(next) {
      if (next === mode) return;
      const previous = mode;
      mode = next;
      if (next === 'refuse') {
        for (const pair of pairs) {
          pair.upstream?.destroy();
          // A reset, not a polite FIN: the client sees ECONNRESET as when a host dies.
          pair.client.resetAndDestroy();
        }
        pairs.clear();
        await stopListening();
        return;
      }
      if (previous === 'refuse') await listen(port);
      if (next === 'blackhole') {
        for (const pair of pairs) blackhole(pair);
        return;
      }
      // Back to pass: the state of black-holed connections is gone; the server side is closed.
      for (const pair of pairs) {
        if (pair.dead) {
          pair.upstream?.destroy();
          pair.upstream = undefined;
        }
      }
    },
    connections: () => pairs.size,
    async close() {
      for (const pair of pairs) {
        pair.upstream?.destroy();
        pair.client.destroy();
      }
      pairs.clear();
      await stopListening();
    },
  };
}

function createConnection(target: { host: string; port: number }, pair: Pair): Socket {
  const upstream = new Socket();
  upstream.on('error', () => pair.client.destroy());
  upstream.on('close', () => {
    if (!pair.dead) pair.client.destroy();
  });
  upstream.connect(target.port, target.host);
  return upstream;
}

/** Stops every byte both ways: unpiped, paused, and what arrives from now on is dropped. */
function blackhole(pair: Pair) {
  pair.dead = true;
  const { client, upstream } = pair;
  client.unpipe();
  upstream?.unpipe();
  client.pause();
  upstream?.pause();
  // Whatever the client sends is read and thrown away, so its writes never block on a full buffer.
  client.removeAllListeners('data');
  client.on('data', () => {});
  client.resume();
}
