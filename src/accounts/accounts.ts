import { text } from '../api/text';
import type { Db } from '../db/knex';
import { hashSecret, newId } from '../ids';
import { insertApiKey } from './api-keys';

export interface CreatedAccount {
  accountId: string;
  /** Shown once; only its hash is stored. */
  apiKey: string;
}

/** The merchant name customers see on the link page and in messages. */
export const MAX_ACCOUNT_NAME = 200;
export const ACCOUNT_NAME = text(MAX_ACCOUNT_NAME, 1);

export async function createAccount(db: Db, name: string, timezone = 'UTC'): Promise<CreatedAccount> {
  const accountId = newId('acct');
  return db.transaction(async (tx) => {
    await tx('accounts').insert({ id: accountId, name, timezone });
    const { apiKey } = await insertApiKey(tx, accountId);
    return { accountId, apiKey };
  });
}

export interface AuthenticatedAccount {
  id: string;
  name: string;
  timezone: string;
}

/** Read on every request, never cached: a revoked key fails on the very next request. */
export async function findAccountByApiKey(db: Db, apiKey: string): Promise<AuthenticatedAccount | undefined> {
  const row = await db('api_keys as k')
    .join('accounts as a', 'a.id', 'k.account_id')
    .where('k.key_hash', hashSecret(apiKey))
    .whereNull('k.revoked_at')
    .first('a.id', 'a.name', 'a.timezone');
  return row;
}

export async function findAccount(db: Db, accountId: string): Promise<AuthenticatedAccount | undefined> {
  return db('accounts').where({ id: accountId }).first('id', 'name', 'timezone');
}
