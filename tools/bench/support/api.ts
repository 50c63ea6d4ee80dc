/**
 * The whole API (composeApi: helmet, auth, validation) in this process on a loopback port, for
 * the benches that measure reads of Postgres: no Temporal behind it (a client that never
 * connects), the account limit out of reach so that the query is measured, not the limiter.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { composeApi } from '../../../src/api/compose';
import { DEFAULT_RATE_LIMITS } from '../../../src/config/rate-limits';
import type { Db } from '../../../src/db/knex';
import { createLogger } from '../../../src/logger';

export interface ListeningApi {
  origin: string;
  close(): Promise<void>;
}

export async function listenReadApi(db: Db, taskQueue: string): Promise<ListeningApi> {
  const temporal = new Client({
    connection: await Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 300 }),
  });
  const app = composeApi({
    db,
    temporal,
    taskQueue,
    publicBaseUrl: 'http://127.0.0.1',
    createWaitMs: 1000,
    logger: createLogger('silent'),
    twilioAuthToken: undefined,
    sandboxSecret: undefined,
    secretsKey: Buffer.alloc(32, 7),
    rateLimits: { ...DEFAULT_RATE_LIMITS, accountPerMinute: 1_000_000 },
  });
  const server = await new Promise<Server>((ready) => {
    const s = app.listen(0, '127.0.0.1', () => ready(s));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
