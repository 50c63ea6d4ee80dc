/**
 * Temporal over mTLS, for real. The dev server speaks only plain text (`temporal server start-dev`
 * has no TLS flags), so a TLS terminator in front of it (Node's tls server, client certificates
 * required, ALPN h2) stands in for a TLS-enabled cluster; certificates come from openssl. Both the
 * client (grpc-js) and the worker's NativeConnection (Rust core) connect with the options built
 * from TEMPORAL_TLS_* settings, and are refused without a client certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { temporalAccessOf, temporalConnectionOptions } from '../../src/temporal/connection-options';
import { installQuietRuntime } from '../helpers/temporal';

let dir: string;
let proxy: Server;
let proxyAddress: string;
const sockets = new Set<Socket>();

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paylinks-tls-'));
  const run = (args: string) => openssl(...args.split(' '));
  run('req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=paylinks-test-ca -keyout ca.key -out ca.pem');
  for (const [name, ext] of [
    ['server', 'subjectAltName=DNS:temporal.test'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    run(`req -newkey rsa:2048 -nodes -subj /CN=${name} -keyout ${name}.key -out ${name}.csr`);
    run(
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out ${name}.pem -extfile ${name}.ext`,
    );
  }

  const [host, port] = inject('temporalAddress').split(':') as [string, string];
  proxy = createTlsServer(
    {
      key: readFileSync(join(dir, 'server.key')),
      cert: readFileSync(join(dir, 'server.pem')),
      ca: readFileSync(join(dir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (tls) => {
      const upstream = connect(Number(port), host);
      sockets.add(tls).add(upstream);
      tls.pipe(upstream).pipe(tls);
      const end = () => {
        tls.destroy();
        upstream.destroy();
      };
      tls.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    },
  );
  proxy.on('tlsClientError', () => {}); // a refused handshake is what one test wants
  await new Promise<void>((ready) => proxy.listen(0, '127.0.0.1', () => ready()));
  const address = proxy.address() as { port: number };
  proxyAddress = `127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((done) => (proxy ? proxy.close(() => done()) : done()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The options `npm run worker` / `npm run api` would build from these settings. */
const optionsFrom = (env: Record<string, string>) => {
  const config = loadConfig({ TEMPORAL_ADDRESS: proxyAddress, ...env });
  return temporalConnectionOptions(temporalAccessOf(config.temporal, proxyAddress));
};

const mtls = () => ({
  TEMPORAL_TLS_CERT: join(dir, 'client.pem'), // a path…
  TEMPORAL_TLS_KEY: readFileSync(join(dir, 'client.key'), 'utf8'), // …or the PEM itself
  TEMPORAL_TLS_CA: join(dir, 'ca.pem'),
  // The certificate names temporal.test; we dial an IP address.
  TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
});

it('the client connects over mTLS with the configured certificate, key, CA and server name', async () => {
  const connection = await Connection.connect(optionsFrom(mtls()));
  try {
    const info = await connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(info.namespaceInfo?.name).toBe('default');
  } finally {
    await connection.close();
  }
});

it("the worker's native connection connects over mTLS too", async () => {
  installQuietRuntime();
  const connection = await NativeConnection.connect(optionsFrom(mtls()));
  try {
    const info = await connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(info.namespaceInfo?.name).toBe('default');
  } finally {
    await connection.close();
  }
});

it('without a client certificate the server refuses the connection', async () => {
  const { TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME } = mtls();
  const options = optionsFrom({ TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME });
  expect(options.tls?.clientCertPair).toBeUndefined();
  await expect(
    Connection.connect({ ...options, connectTimeout: 3000 }).then(async (c) => {
      try {
        await c.withDeadline(Date.now() + 3000, () =>
          c.workflowService.describeNamespace({ namespace: 'default' }),
        );
      } finally {
        await c.close();
      }
    }),
  ).rejects.toThrow();
});
