/** The `paylinks` command as an operator runs it: `npx paylinks accounts create … --json`. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAccountByApiKey } from '../../src/accounts/accounts';
import { hashSecret } from '../../src/ids';
import { PROJECT_ROOT } from '../../src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { listenTestApi } from '../helpers/stack';
import { testClient, uniqueTaskQueue } from '../helpers/temporal';

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

it('rejects an empty or overlong account name and stores nothing', async () => {
  for (const name of ['', 'x'.repeat(201)])
    await expect(paylinks('accounts', 'create', name)).rejects.toThrow(
      /<name>: must be 1 to 200 characters of text/,
    );
  expect(await database.db('accounts').where('name', '').orWhere('name', 'x'.repeat(201))).toEqual([]);
});

describe('API keys', () => {
  let api: Awaited<ReturnType<typeof listenTestApi>>;
  let temporal: Awaited<ReturnType<typeof testClient>>;
  beforeAll(async () => {
    temporal = await testClient();
    api = await listenTestApi({ db: database.db, temporal, taskQueue: uniqueTaskQueue('cli') });
  });
  afterAll(async () => {
    await api?.close();
    await temporal?.connection.close();
  });
  /** Any authenticated read: the status says whether the key is accepted. */
  const callWith = async (key: string) => {
    const res = await fetch(`${api.baseUrl}/v1/webhook_endpoint`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: await res.json() };
  };

  it('rotation: a second key is created, the first revoked and refused on the next request, the second kept', async () => {
    const first = JSON.parse((await paylinks('accounts', 'create', 'Rotating shop', '--json')).stdout);
    const second = JSON.parse(
      (await paylinks('keys', 'create', '--account', first.account_id, '--json')).stdout,
    );
    expect(Object.keys(second).sort()).toEqual(['api_key', 'created_at', 'id', 'prefix']);
    expect(second.api_key).toMatch(/^plk_[A-Za-z0-9_-]{43}$/);
    expect(second.prefix).toBe(second.api_key.slice(0, 8));
    const stored = await database.db('api_keys').where({ account_id: first.account_id });
    expect(stored.map((k) => k.key_hash).sort()).toEqual(
      [hashSecret(first.api_key), hashSecret(second.api_key)].sort(),
    );
    expect(JSON.stringify(stored)).not.toContain(first.api_key);
    expect(JSON.stringify(stored)).not.toContain(second.api_key);

    expect((await callWith(first.api_key)).status).toBe(200);
    expect((await callWith(second.api_key)).status).toBe(200);

    const [firstKey] = await database
      .db('api_keys')
      .where({ key_hash: hashSecret(first.api_key) })
      .select('id');
    const revoked = JSON.parse(
      (await paylinks('keys', 'revoke', firstKey.id, '--account', first.account_id, '--json')).stdout,
    );
    expect(revoked).toMatchObject({ id: firstKey.id, revoked_at: expect.any(String) });

    // The very next request: no cache between revocation and authentication.
    expect(await callWith(first.api_key)).toEqual({
      status: 401,
      body: { error: expect.objectContaining({ type: 'authentication_error', code: 'unauthorized' }) },
    });
    expect((await callWith(second.api_key)).status).toBe(200);
  });

  it('list shows ids, prefixes and times, never a whole key', async () => {
    const account = JSON.parse((await paylinks('accounts', 'create', 'Listed shop', '--json')).stdout);
    const extra = JSON.parse(
      (await paylinks('keys', 'create', '--account', account.account_id, '--json')).stdout,
    );
    const [original] = await database
      .db('api_keys')
      .where({ key_hash: hashSecret(account.api_key) })
      .select('id');
    await paylinks('keys', 'revoke', original.id, '--account', account.account_id);

    const json = (await paylinks('keys', 'list', '--account', account.account_id, '--json')).stdout;
    const text = (await paylinks('keys', 'list', '--account', account.account_id)).stdout;
    const listed = JSON.parse(json);
    expect(listed).toEqual(
      expect.arrayContaining([
        {
          id: original.id,
          prefix: account.api_key.slice(0, 8),
          created_at: expect.any(String),
          revoked_at: expect.any(String),
        },
        { id: extra.id, prefix: extra.prefix, created_at: extra.created_at, revoked_at: null },
      ]),
    );
    expect(listed).toHaveLength(2);
    for (const out of [json, text]) {
      expect(out).not.toContain(account.api_key);
      expect(out).not.toContain(extra.api_key);
      expect(out).toContain(extra.prefix);
    }
    expect(text).toMatch(new RegExp(`${original.id} .* revoked `));
  });

  it("refuses to revoke another account's key, and to create a key for no account", async () => {
    const a = JSON.parse((await paylinks('accounts', 'create', 'Shop A', '--json')).stdout);
    const b = JSON.parse((await paylinks('accounts', 'create', 'Shop B', '--json')).stdout);
    const [keyOfA] = await database.db('api_keys').where({ account_id: a.account_id }).select('id');
    await expect(paylinks('keys', 'revoke', keyOfA.id, '--account', b.account_id)).rejects.toThrow(
      new RegExp(`account ${b.account_id} has no API key ${keyOfA.id}`),
    );
    expect((await callWith(a.api_key)).status).toBe(200);
    await expect(paylinks('keys', 'create', '--account', 'acct_missing')).rejects.toThrow(
      /no account acct_missing/,
    );
  });
});
