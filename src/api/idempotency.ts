/**
 * `Idempotency-Key` for every request that creates something: the same key and body answer the
 * same status and body (`Idempotent-Replayed: true`); the same key with another body is a 409.
 * A key belongs to one endpoint (method and path, ids included), so a key reused on another
 * endpoint is a new request there. The id of what the request creates is recorded with the key
 * before anything is written, so a retry after a crash at any point creates that same id again
 * (an insert that finds it, a workflow id that exists, an update id Temporal has seen): one
 * resource. While a request runs it holds its key for a lease; a concurrent retry gets a 409
 * rather than running beside it.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ZodError } from 'zod';
import type { Db } from '../db/knex';
import { newId } from '../ids';
import { openSecret, sealSecret } from '../webhooks/secret-box';
import { accountOf } from './auth';
import { ApiError, fromZodError } from './errors';

export interface Outcome {
  status: number;
  body: unknown;
}

/** A route's path parameters (`:id`). */
type Params = Record<string, string>;

export interface IdempotencyOptions {
  /** Prefix of the id the request creates (`cus`, `plink`…), chosen before anything is written. */
  reserve?: string;
  /** The answer carries a secret shown once: its stored copy is encrypted with this key. */
  sealWith?: Buffer;
}

/** Longer than any request runs (link creation waits at most twice LINK_CREATE_WAIT_MS). */
export const LEASE_SECONDS = 60;
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const HEADER = IDEMPOTENCY_HEADER;

const hashOf = (body: unknown) =>
  createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');

/** `POST /v1/invoices/inv_1/payment_link`: the route's own path with this request's ids. */
function scopeOf<P extends Params>(req: Request<P>): string {
  const template: string = req.route?.path ?? req.path;
  const path = template.replace(/:(\w+)/g, (_, name: string) =>
    encodeURIComponent(String(req.params[name] ?? '')),
  );
  return `${req.method} ${`${req.baseUrl.toLowerCase()}${path}`.replace(/\/+$/, '')}`;
}

/**
 * Wraps a route that creates something. `handler` parses, calls one domain function with the
 * reserved id, and returns the status and body to send.
 */
export function withIdempotency<P extends Params = Params>(
  db: Db,
  handler: (req: Request<P>, reservedId: string) => Promise<Outcome>,
  options: IdempotencyOptions = {},
): RequestHandler<P> {
  const reserve = () => newId(options.reserve ?? 'req');
  return async (req, res) => {
    const key = req.get(HEADER);
    let outcome: Outcome & { replayed?: boolean };
    if (key === undefined) outcome = await handler(req, reserve());
    else {
      outcome = await idempotent(
        db,
        { accountId: accountOf(req).id, scope: scopeOf(req), key, requestHash: hashOf(req.body) },
        reserve,
        (id) => handler(req, id),
        options.sealWith,
      );
    }
    if (outcome.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(outcome.status).json(outcome.body);
  };
}

interface KeyRef {
  accountId: string;
  scope: string;
  key: string;
  requestHash: string;
}

interface KeyRow {
  request_hash: string;
  resource_id: string;
  response_status: number | null;
  response_body: unknown;
}

async function idempotent(
  db: Db,
  ref: KeyRef,
  reserve: () => string,
  run: (resourceId: string) => Promise<Outcome>,
  sealWith: Buffer | undefined,
): Promise<Outcome & { replayed: boolean }> {
  if (ref.key.length === 0 || ref.key.length > 255) {
    throw ApiError.invalid(`${HEADER} must be 1 to 255 characters`, HEADER);
  }
  const where = { account_id: ref.accountId, scope: ref.scope, key: ref.key };
  const leaseUntil = db.raw('now() + make_interval(secs => ?)', [LEASE_SECONDS]);
  const replay = (row: KeyRow) => ({
    status: row.response_status as number,
    body: sealWith ? JSON.parse(openSecret(sealWith, row.response_body as string)) : row.response_body,
    replayed: true,
  });

  let claimed: KeyRow | undefined;
  // A key freed by a refused request between our insert and our read: try again (rarely twice).
  for (let attempt = 0; claimed === undefined && attempt < 3; attempt++) {
    [claimed] = await db('idempotency_keys')
      .insert({ ...where, request_hash: ref.requestHash, resource_id: reserve(), locked_until: leaseUntil })
      .onConflict(['account_id', 'scope', 'key'])
      .ignore()
      .returning('*');
    if (claimed) break;
    const row: KeyRow | undefined = await db('idempotency_keys').where(where).first();
    if (!row) continue;
    if (row.request_hash !== ref.requestHash) {
      throw ApiError.conflict(
        `This ${HEADER} was used with a different request body`,
        'idempotency_key_reused',
        HEADER,
      );
    }
    if (row.response_status !== null) return replay(row);
    // Unanswered: a request still running holds the lease; one that died has let it lapse.
    [claimed] = await db('idempotency_keys')
      .where(where)
      .whereNull('response_status')
      .where((q) => q.whereNull('locked_until').orWhere('locked_until', '<', db.fn.now()))
      .update({ locked_until: leaseUntil })
      .returning('*');
    if (claimed) break;
    const now: KeyRow | undefined = await db('idempotency_keys').where(where).first();
    if (now?.response_status != null) return replay(now);
    throw ApiError.conflict(
      `A request with this ${HEADER} is still in progress; retry in a few seconds`,
      'idempotency_key_in_use',
      HEADER,
    );
  }
  if (!claimed)
    throw ApiError.conflict(`This ${HEADER} is contended; retry`, 'idempotency_key_in_use', HEADER);

  let outcome: Outcome;
  try {
    outcome = await run(claimed.resource_id);
  } catch (raw) {
    const err = raw instanceof ZodError ? fromZodError(raw) : raw;
    const unanswered = db('idempotency_keys').where(where).whereNull('response_status');
    // A refused request created nothing: free the key so the corrected request can use it.
    if (err instanceof ApiError && err.status < 500) await unanswered.delete();
    // Anything else may have created the resource: keep its id for the retry, without the lease.
    else await unanswered.update({ locked_until: null });
    throw err;
  }
  const stored = JSON.stringify(outcome.body);
  await db('idempotency_keys')
    .where(where)
    .update({
      response_status: outcome.status,
      response_body: sealWith ? JSON.stringify(sealSecret(sealWith, stored)) : stored,
      locked_until: null,
    });
  return { ...outcome, replayed: false };
}
