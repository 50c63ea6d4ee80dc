import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger';

export type Db = Knex;

const INT8_OID = 20;

/**
 * Amounts are bigint columns; pg returns them as strings by default. Minor units stay far
 * below 2^53, so they are parsed to numbers for this pool only (not process-wide).
 */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text'),
};

/**
 * How long the pool waits on a database that does not answer. Without them a request hangs for
 * as long as the kernel keeps a dead TCP connection (tens of seconds to minutes) during a
 * partition; with them it fails fast and the API answers 503.
 */
export interface DbTimeouts {
  /** A new connection's TCP and start-up handshake (pg `connectionTimeoutMillis`). */
  connectMs: number;
  /** Waiting for a free pooled connection (knex `acquireConnectionTimeout`). */
  acquireMs: number;
  /** Server side: Postgres cancels a statement running longer (`statement_timeout`). */
  statementMs: number;
  /** Client side: no answer at all in this time means the connection is dead (pg `query_timeout`). */
  queryMs: number;
}

/**
 * The worker's pool: its local activities (at most LIFECYCLE_TUNING.maxConcurrentLocalActivityExecutions,
 * 10, at once) each hold a connection for one write, and its activities (messages, reconciler)
 * and outbox drainer need their own beside them; Postgres on a small machine gains nothing from more.
 */
export const WORKER_POOL_MAX = 20;

export interface DbOptions {
  min?: number;
  max?: number;
  /** Unset: the drivers' own (no) limits, for migrations and operator commands. */
  timeouts?: DbTimeouts;
  /** Where knex's own warnings go (default: the console). */
  logger?: Logger;
}

/**
 * knex warns with a stack trace on every failed connection attempt: during an outage that is one
 * per request, and the API already logs one line for each; they go to debug.
 */
const PER_ATTEMPT_WARNINGS = ['Acquire connection error', 'Connection Error'];

function knexLog(logger: Logger): Knex.Config['log'] {
  const warn = (message: string) =>
    PER_ATTEMPT_WARNINGS.some((p) => String(message).startsWith(p))
      ? logger.debug({ source: 'knex' }, message)
      : logger.warn({ source: 'knex' }, message);
  return {
    warn,
    error: (message: string) => logger.error({ source: 'knex' }, message),
    deprecate: (method: string, alternative: string) =>
      logger.warn({ source: 'knex' }, `${method} is deprecated, use ${alternative}`),
    debug: (message: string) => logger.debug({ source: 'knex' }, message),
  };
}

/**
 * A connection whose last query got no answer (pg's `query_timeout` fired) still has that
 * query in flight: whatever arrives next on it belongs to the abandoned query, and on a
 * black-holed connection nothing ever will. It is never handed out again; the pool ends it
 * (pg destroys the socket of a client with a query in flight) and opens a fresh one.
 */
function isReusable(connection: unknown): boolean {
  const client = connection as { _getActiveQuery?: () => unknown; _queryable?: boolean };
  if (client._queryable === false) return false;
  return typeof client._getActiveQuery !== 'function' || !client._getActiveQuery();
}

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const { timeouts } = options;
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: databaseUrl,
      types,
      ...(timeouts
        ? {
            connectionTimeoutMillis: timeouts.connectMs,
            statement_timeout: timeouts.statementMs,
            query_timeout: timeouts.queryMs,
          }
        : {}),
    } as Knex.PgConnectionConfig,
    ...(timeouts ? { acquireConnectionTimeout: timeouts.acquireMs } : {}),
    pool: { min: options.min ?? 0, max: options.max ?? 10, validate: isReusable },
    ...(options.logger ? { log: knexLog(options.logger) } : {}),
  });
}

/** Creates the database named in the URL if the server does not have it yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      // Identifiers cannot be bound as parameters; escapeIdentifier quotes it safely.
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    }
  } catch (err) {
    // Two processes racing to create it is fine: the other one won.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}

/** Drops the database named in the URL, closing its sessions first (scratch databases of benches). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function isDatabaseReachable(db: Db): Promise<boolean> {
  try {
    await db.raw('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
