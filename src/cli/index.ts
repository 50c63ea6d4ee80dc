/** The operator CLI: `paylinks <command>`. */
import { Command } from 'commander';
import { IANAZone } from 'luxon';
import { ACCOUNT_NAME, createAccount, MAX_ACCOUNT_NAME } from '../accounts/accounts';
import {
  type ApiKeySummary,
  createApiKey,
  listApiKeys,
  revokeApiKey,
  UnknownAccountError,
} from '../accounts/api-keys';
import { DEFAULT_DATABASE_URL, loadConfig } from '../config';
import { createDb, type Db, ensureDatabase } from '../db/knex';
import { migrateLatest } from '../db/migrate';
import { registerCampaignCommands } from './campaigns';
import { registerLinkCommands } from './links';
import { repairCommand } from './repair-links';

const program = new Command('paylinks').description('Paylinks operator tools');

/** The database of DATABASE_URL, created and migrated if need be, closed when `work` is done. */
async function withDb<T>(work: (db: Db) => Promise<T>): Promise<T> {
  const url = loadConfig().databaseUrl ?? DEFAULT_DATABASE_URL;
  await ensureDatabase(url);
  const db = createDb(url);
  try {
    await migrateLatest(db);
    return await work(db);
  } finally {
    await db.destroy();
  }
}

const accounts = program.command('accounts').description('merchant accounts and their API keys');
accounts
  .command('create')
  .argument('<name>', 'the merchant name customers see')
  .option('--timezone <zone>', 'IANA zone for customers without one', 'UTC')
  .option('--json', 'print {"account_id","api_key"} as JSON')
  .description('create an account and its first API key (shown once)')
  .action(async (name: string, opts: { timezone: string; json?: boolean }) => {
    if (!ACCOUNT_NAME.safeParse(name).success)
      program.error(`<name>: must be 1 to ${MAX_ACCOUNT_NAME} characters of text`);
    if (!IANAZone.isValidZone(opts.timezone))
      program.error(`--timezone: "${opts.timezone}" is not an IANA time zone`);
    await withDb(async (db) => {
      const { accountId, apiKey } = await createAccount(db, name, opts.timezone);
      if (opts.json) console.log(JSON.stringify({ account_id: accountId, api_key: apiKey }));
      else console.log(`account ${accountId}\napi key ${apiKey}  (shown once; store it now)`);
    });
  });

/** What list and revoke print: never the key, only its prefix. */
const keyJson = (k: ApiKeySummary) => ({
  id: k.id,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
});
const keyLine = (k: ApiKeySummary) =>
  `${k.id}  ${k.prefix}…  created ${k.createdAt.toISOString()}  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`;

// Rotation: `keys create`, move clients to the new key, then `keys revoke` the old one.
const keys = program.command('keys').description("an account's API keys: create, list, revoke (rotation)");
keys
  .command('create')
  .requiredOption('--account <id>', 'the account the key authenticates')
  .option('--json', 'print {"id","api_key","prefix","created_at"} as JSON')
  .description('create another API key for an account (shown once)')
  .action(async (opts: { account: string; json?: boolean }) => {
    // Exits (program.error) only once the database is closed.
    const problem = await withDb(async (db) => {
      try {
        const k = await createApiKey(db, opts.account);
        if (opts.json) {
          const { id, prefix, created_at } = keyJson(k);
          console.log(JSON.stringify({ id, api_key: k.apiKey, prefix, created_at }));
        } else console.log(`key ${k.id}\napi key ${k.apiKey}  (shown once; store it now)`);
        return undefined;
      } catch (err) {
        if (err instanceof UnknownAccountError) return err.message;
        throw err;
      }
    });
    if (problem) program.error(problem);
  });
keys
  .command('list')
  .requiredOption('--account <id>', 'the account whose keys to list')
  .option('--json', 'print a JSON array of {"id","prefix","created_at","revoked_at"}')
  .description("list an account's keys by id and prefix, with creation and revocation times")
  .action(async (opts: { account: string; json?: boolean }) => {
    await withDb(async (db) => {
      const list = await listApiKeys(db, opts.account);
      if (opts.json) console.log(JSON.stringify(list.map(keyJson)));
      else console.log(list.length ? list.map(keyLine).join('\n') : `no keys for account ${opts.account}`);
    });
  });
keys
  .command('revoke')
  .argument('<key_id>', 'the key to revoke (its id, from `keys list`)')
  .requiredOption('--account <id>', 'the account the key belongs to')
  .option('--json', 'print {"id","prefix","created_at","revoked_at"} as JSON')
  .description('revoke a key: the very next request with it is refused')
  .action(async (keyId: string, opts: { account: string; json?: boolean }) => {
    const revoked = await withDb((db) => revokeApiKey(db, opts.account, keyId));
    if (!revoked) program.error(`account ${opts.account} has no API key ${keyId}`);
    else if (opts.json) console.log(JSON.stringify(keyJson(revoked)));
    else console.log(`revoked ${keyLine(revoked)}`);
  });

// One `links` command: `repair` (Postgres) beside list|show|timeline|cancel|resend|history.
const links = repairCommand(withDb, (message) => program.error(message));
registerLinkCommands(program, links);
program.addCommand(links);
registerCampaignCommands(program);

await program.parseAsync();
