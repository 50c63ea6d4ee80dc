/**
 * `npm start` on a machine with no Postgres: the embedded PGlite server takes over, speaks the
 * wire protocol, and carries the real schema and queries. (Tests otherwise use a real server.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { migrationSource } from '../../migrations';
import { createAccount, findAccountByApiKey } from '../../src/accounts/accounts';
import { createDb } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { type ResolvedDatabase, resolveDatabase } from '../../src/db/resolve';
import { createLogger } from '../../src/logger';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { freePort } from '../helpers/ports';

const dataDir = mkdtempSync(join(tmpdir(), 'paylinks-pglite-'));
let database: ResolvedDatabase | undefined;
afterAll(async () => {
  await database?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('falls back to an embedded Postgres when no server answers and DATABASE_URL is unset', async () => {
  const warnings: string[] = [];
  const logger = createLogger('silent');
  logger.warn = ((msg: string) => warnings.push(msg)) as typeof logger.warn;
  database = await resolveDatabase(undefined, {
    allowEmbedded: true,
    dataDir,
    embeddedPort: await freePort(),
    logger,
    defaultUrl: `postgres://postgres@127.0.0.1:${await freePort()}/paylinks`, // nothing listens
  });
  expect(database.embedded).toBe(true);
  expect(warnings.join('\n')).toMatch(/embedded Postgres \(PGlite\)/);

  const db = createDb(database.url, { max: database.poolMax });
  try {
    const every = (await migrationSource.getMigrations([])).map(migrationSource.getMigrationName);
    expect(every.length).toBeGreaterThan(10);
    expect(await migrateLatest(db)).toEqual(every);
    const { accountId, apiKey } = await createAccount(db, 'Offline shop', TEST_ACCOUNT_ZONE);
    expect((await findAccountByApiKey(db, apiKey))?.id).toBe(accountId);
  } finally {
    await db.destroy();
  }
});

it('refuses to fall back for the roles that need a real server', async () => {
  await expect(
    resolveDatabase(undefined, {
      allowEmbedded: false,
      dataDir,
      embeddedPort: await freePort(),
      logger: createLogger('silent'),
      defaultUrl: `postgres://postgres@127.0.0.1:${await freePort()}/paylinks`,
    }),
  ).rejects.toThrow(/set DATABASE_URL/);
});
