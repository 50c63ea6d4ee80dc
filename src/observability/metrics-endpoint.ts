import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scrape } from './metrics';

/** `Authorization: Bearer <token>`, compared in constant time; no token configured: open. */
function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Serves the scrape; usable as an Express handler or a bare node:http listener. */
export function metricsHandler(token: string | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!authorised(req, token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' });
      res.end('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n');
      return;
    }
    const { contentType, body } = await scrape();
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A listener of its own for /metrics (METRICS_PORT, bound to METRICS_HOST, loopback by default):
 * how the worker, which serves no HTTP otherwise, exposes its counters, and how the API can keep
 * them off the public link host altogether.
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  token?: string;
}): Promise<MetricsServer> {
  const handle = metricsHandler(opts.token);
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      handle(req, res).catch(() => {
        res.writeHead(500).end();
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => ready());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
