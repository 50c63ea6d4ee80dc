/**
 * The public page's baseline: bare `node:http` in a process of its own, answering every request
 * with the bytes the API served for the page (BARE_BODY_FILE, BARE_CONTENT_TYPE) on PORT.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const { BARE_BODY_FILE, BARE_CONTENT_TYPE, PORT } = process.env;
if (!BARE_BODY_FILE || !BARE_CONTENT_TYPE || !PORT)
  throw new Error('BARE_BODY_FILE, BARE_CONTENT_TYPE and PORT are required');
const body = readFileSync(BARE_BODY_FILE);
const server = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': BARE_CONTENT_TYPE,
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
});
server.listen(Number(PORT), '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
