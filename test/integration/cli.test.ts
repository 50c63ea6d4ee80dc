/** The `paylinks` command as an operator runs it: `npx paylinks accounts create … --json`. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findAccountByApiKey } from '../../src/accounts/accounts';
import { hashSecret } from '../../src/ids';
import { PROJECT_ROOT } from '../../src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const run = promisify(execFile);
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const paylinks = (...args: string[]) =>
  run('npx', ['paylinks', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: database.url },
  });

it('creates an account and prints its key once; only the hash is stored', async () => {
  const { stdout } = await paylinks(
    'accounts',
    'create',
    'Corner Café',
    '--timezone',
    'Europe/Paris',
    '--json',
  );
  const created = JSON.parse(stdout);
  expect(Object.keys(created).sort()).toEqual(['account_id', 'api_key']);
  expect(created.account_id).toMatch(/^acct_/);
  expect(created.api_key).toMatch(/^plk_[A-Za-z0-9_-]{43}$/); // 256 random bits

  const account = await findAccountByApiKey(database.db, created.api_key);
  expect(account).toEqual({ id: created.account_id, name: 'Corner Café', timezone: 'Europe/Paris' });
  const stored = await database.db('api_keys').where({ account_id: created.account_id });
  expect(stored).toHaveLength(1);
  expect(stored[0].key_hash).toBe(hashSecret(created.api_key));
  expect(JSON.stringify(stored)).not.toContain(created.api_key);
});

it('rejects a time zone that does not exist', async () => {
  await expect(paylinks('accounts', 'create', 'X', '--timezone', 'Mars/Olympus')).rejects.toThrow(
    /--timezone: "Mars\/Olympus" is not an IANA time zone/,
  );
});
