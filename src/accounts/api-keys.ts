/**
 * An account's API keys: several may be live at once, so a key is rotated by creating the new
 * one, moving clients over, then revoking the old one. Only a key's hash and a short prefix (to
 * tell keys apart in a list) are stored; the key itself is returned once, at creation.
 */
import type { Db } from '../db/knex';
import { hashSecret, newApiKey, newId } from '../ids';

/** `plk_` and 4 random characters: enough to recognise a key, far too little to guess the rest. */
const PREFIX_LENGTH = 8;

export interface ApiKeySummary {
  id: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface CreatedApiKey extends ApiKeySummary {
  /** Shown once; only its hash is stored. */
  apiKey: string;
}

/** Inserts a new key for the account (inside the caller's transaction, if any). */
export async function insertApiKey(db: Db, accountId: string): Promise<CreatedApiKey> {
  const apiKey = newApiKey();
  const [row] = await db('api_keys')
    .insert({
      id: newId('key'),
      account_id: accountId,
      key_hash: hashSecret(apiKey),
      key_prefix: apiKey.slice(0, PREFIX_LENGTH),
    })
    .returning(['id', 'key_prefix', 'created_at', 'revoked_at']);
  return { ...summary(row), apiKey };
}

export class UnknownAccountError extends Error {}

export async function createApiKey(db: Db, accountId: string): Promise<CreatedApiKey> {
  return db.transaction(async (tx) => {
    // Locked so the account cannot vanish between the check and the insert.
    const account = await tx('accounts').where({ id: accountId }).forUpdate().first('id');
    if (!account) throw new UnknownAccountError(`no account ${accountId}`);
    return insertApiKey(tx, accountId);
  });
}

export async function listApiKeys(db: Db, accountId: string): Promise<ApiKeySummary[]> {
  const rows = await db('api_keys')
    .where({ account_id: accountId })
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select('id', 'key_prefix', 'created_at', 'revoked_at');
  return rows.map(summary);
}

/**
 * Revokes one of the account's keys; authentication reads `revoked_at` on every request, so the
 * very next request with it is refused. Revoking a revoked key keeps its first revocation time.
 * Undefined when the account has no such key.
 */
export async function revokeApiKey(
  db: Db,
  accountId: string,
  keyId: string,
): Promise<ApiKeySummary | undefined> {
  await db('api_keys')
    .where({ id: keyId, account_id: accountId })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now() });
  const row = await db('api_keys')
    .where({ id: keyId, account_id: accountId })
    .first('id', 'key_prefix', 'created_at', 'revoked_at');
  return row ? summary(row) : undefined;
}

function summary(row: {
  id: string;
  key_prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}): ApiKeySummary {
  return { id: row.id, prefix: row.key_prefix, createdAt: row.created_at, revokedAt: row.revoked_at };
}
