import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../config';
import type { Logger } from '../logger';
import { startEmbeddedPostgres } from './embedded';
import { ensureDatabase } from './knex';

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  /** pg pool size: the embedded server runs one session at a time. */
  poolMax: number;
  stop(): Promise<void>;
}

async function serverAnswers(url: string): Promise<boolean> {
  const probe = new URL(url);
  probe.pathname = '/postgres';
  const client = new pg.Client({ connectionString: probe.toString(), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * DATABASE_URL if given (created if missing); else the local server's `paylinks` database;
 * else, for `npm start` only, an embedded Postgres under `.data/pg`.
 */
export async function resolveDatabase(
  databaseUrl: string | undefined,
  opts: { allowEmbedded: boolean; dataDir: string; embeddedPort: number; logger: Logger },
): Promise<ResolvedDatabase> {
  const noop = async () => {};
  if (databaseUrl) {
    await ensureDatabase(databaseUrl);
    return { url: databaseUrl, embedded: false, poolMax: 10, stop: noop };
  }
  if (await serverAnswers(DEFAULT_DATABASE_URL)) {
    await ensureDatabase(DEFAULT_DATABASE_URL);
    return { url: DEFAULT_DATABASE_URL, embedded: false, poolMax: 10, stop: noop };
  }
  if (!opts.allowEmbedded) {
    throw new Error(`No Postgres answers at ${DEFAULT_DATABASE_URL}; set DATABASE_URL`);
  }
  const dir = join(opts.dataDir, 'pg');
  opts.logger.warn(
    `No Postgres at ${DEFAULT_DATABASE_URL} and no DATABASE_URL: using an embedded Postgres (PGlite) in ${dir}`,
  );
  const embedded = await startEmbeddedPostgres(dir, opts.embeddedPort);
  return { url: embedded.url, embedded: true, poolMax: 1, stop: embedded.stop };
}
