/** The operator CLI: `paylinks <command>`. */
import { Command } from 'commander';
import { IANAZone } from 'luxon';
import { createAccount } from '../accounts/accounts';
import { DEFAULT_DATABASE_URL, loadConfig } from '../config';
import { createDb, ensureDatabase } from '../db/knex';
import { migrateLatest } from '../db/migrate';

const program = new Command('paylinks').description('Paylinks operator tools');

const accounts = program.command('accounts').description('merchant accounts and their API keys');
accounts
  .command('create')
  .argument('<name>', 'the merchant name customers see')
  .option('--timezone <zone>', 'IANA zone for customers without one', 'UTC')
  .option('--json', 'print {"account_id","api_key"} as JSON')
  .description('create an account and its first API key (shown once)')
  .action(async (name: string, opts: { timezone: string; json?: boolean }) => {
    if (!IANAZone.isValidZone(opts.timezone))
      program.error(`--timezone: "${opts.timezone}" is not an IANA time zone`);
    const url = loadConfig().databaseUrl ?? DEFAULT_DATABASE_URL;
    await ensureDatabase(url);
    const db = createDb(url);
    try {
      await migrateLatest(db);
      const { accountId, apiKey } = await createAccount(db, name, opts.timezone);
      if (opts.json) console.log(JSON.stringify({ account_id: accountId, api_key: apiKey }));
      else console.log(`account ${accountId}\napi key ${apiKey}  (shown once; store it now)`);
    } finally {
      await db.destroy();
    }
  });

await program.parseAsync();
