import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  signature: string;
  raw: Buffer;
  event: {
    id: string;
    type: string;
    data: { payment_link: Record<string, unknown> & { id: string }; payment?: Record<string, unknown> };
  };
}

/**
 * A merchant's webhook endpoint on loopback: keeps what it receives, or answers 500 when told to;
 * counts the connections made to it (a refused delivery must make none).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const state = { failNext: 0, connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (state.failNext > 0) {
        state.failNext -= 1;
        res.writeHead(500).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      received.push({
        signature: String(req.headers['paylinks-signature']),
        raw,
        event: JSON.parse(raw.toString()),
      });
      res.writeHead(200).end('ok');
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    connections: () => state.connections,
    received,
    /** The next `n` deliveries are answered 500. */
    failNext(n: number) {
      state.failNext = n;
    },
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
