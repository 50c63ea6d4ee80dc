/**
 * A database of its own on a Postgres server, dropped at the end: the tests clone the migrated
 * template into one per file, the fault suite makes one per part. Free of vitest.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/knex';

export interface ScratchDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * `CREATE DATABASE <prefix>_<random>` on `adminUrl`'s server (a copy of `template` when given);
 * `drop()` closes the pool and drops it, whoever is still connected.
 */
export async function createScratchDatabase(options: {
  adminUrl: string;
  prefix: string;
  template?: string;
}): Promise<ScratchDatabase> {
  const { adminUrl, template } = options;
  const name = `${options.prefix}_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (c) =>
    c.query(
      `CREATE DATABASE ${c.escapeIdentifier(name)}${template ? ` TEMPLATE ${c.escapeIdentifier(template)}` : ''}`,
    ),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.destroy();
      await admin(adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}
