/**
 * `Idempotency-Key` for creating payment links: the same key and body answer the same response;
 * the same key with another body is a 409. The link's id is recorded with the key before its
 * workflow starts, so a retry after a crash at any point reuses that id, and Temporal's
 * workflow-id uniqueness makes it one link.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/knex';
import { ApiError } from './errors';

export interface IdempotentResult {
  status: number;
  body: unknown;
  replayed: boolean;
}

const hashOf = (body: unknown) =>
  createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');

export async function idempotent(
  db: Db,
  accountId: string,
  key: string,
  requestBody: unknown,
  newResourceId: () => string,
  run: (resourceId: string) => Promise<{ status: number; body: unknown }>,
): Promise<IdempotentResult> {
  if (key.length === 0 || key.length > 255) {
    throw ApiError.invalid('Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key');
  }
  const requestHash = hashOf(requestBody);
  await db('idempotency_keys')
    .insert({ account_id: accountId, key, request_hash: requestHash, resource_id: newResourceId() })
    .onConflict(['account_id', 'key'])
    .ignore();
  const row = await db('idempotency_keys').where({ account_id: accountId, key }).first();
  if (row.request_hash !== requestHash) {
    throw ApiError.conflict(
      'This Idempotency-Key was used with a different request body',
      'idempotency_key_reused',
      'Idempotency-Key',
    );
  }
  if (row.response_status !== null)
    return { status: row.response_status, body: row.response_body, replayed: true };

  // First run, a concurrent one, or one that died half-way: all create the same resource id.
  let result: { status: number; body: unknown };
  try {
    result = await run(row.resource_id);
  } catch (err) {
    // A refused request created nothing: free the key so the corrected request can use it.
    if (err instanceof ApiError && err.status < 500) {
      await db('idempotency_keys')
        .where({ account_id: accountId, key })
        .whereNull('response_status')
        .delete();
    }
    throw err;
  }
  await db('idempotency_keys')
    .where({ account_id: accountId, key })
    .update({ response_status: result.status, response_body: JSON.stringify(result.body) });
  return { ...result, replayed: false };
}
