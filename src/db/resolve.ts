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
  opts: {
    allowEmbedded: boolean;
    dataDir: string;
    embeddedPort: number;
    logger: Logger;
    /** The local server tried when DATABASE_URL is unset. */
    defaultUrl?: string;
  },
): Promise<ResolvedDatabase> {
  const noop = async () => {};
  const defaultUrl = opts.defaultUrl ?? DEFAULT_DATABASE_URL;
  if (databaseUrl) {
    await ensureDatabase(databaseUrl);
    return { url: databaseUrl, embedded: false, poolMax: 10, stop: noop };
  }
  if (await serverAnswers(defaultUrl)) {
    await ensureDatabase(defaultUrl);
    return { url: defaultUrl, embedded: false, poolMax: 10, stop: noop };
  }
  if (!opts.allowEmbedded) {
    throw new Error(`No Postgres answers at ${defaultUrl}; set DATABASE_URL`);
  }
  const dir = join(opts.dataDir, 'pg');
  opts.logger.warn(
    `No Postgres at ${defaultUrl} and no DATABASE_URL: using an embedded Postgres (PGlite) in ${dir}`,
  );
  const embedded = await startEmbeddedPostgres(dir, opts.embeddedPort);
  return { url: embedded.url, embedded: true, poolMax: 1, stop: embedded.stop };
}
