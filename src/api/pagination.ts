import type { Knex } from 'knex';
import { z } from 'zod';
import { ApiError } from './errors';

export const PaginationSchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  // Any object's id: a prefix and the base64url alphabet, nothing a query could choke on.
  starting_after: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be the id of the last object of the previous page')
    .optional(),
});

export interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

/**
 * Newest first, by (created_at, id); `starting_after` is the id of the last item of the
 * previous page and must be a row of the same account and table, else 400.
 */
export async function paginate<Row extends { id: string; created_at: Date }>(
  db: Knex,
  table: string,
  accountId: string,
  opts: { limit: number; starting_after?: string },
  filter: (query: Knex.QueryBuilder) => void = () => {},
): Promise<{ rows: Row[]; hasMore: boolean }> {
  const query = db(table).select(`${table}.*`);
  filter(query);
  if (opts.starting_after) {
    const cursor = await db(table)
      .where({ id: opts.starting_after, account_id: accountId })
      .first('id', 'created_at');
    if (!cursor) {
      throw ApiError.invalid(
        `starting_after: no such object '${opts.starting_after}'`,
        'starting_after',
        'cursor_invalid',
      );
    }
    // Compared in SQL: timestamptz keeps microseconds, a JS Date only milliseconds.
    query.whereRaw(`(??, ??) < (SELECT created_at, id FROM ?? WHERE id = ? AND account_id = ?)`, [
      `${table}.created_at`,
      `${table}.id`,
      table,
      cursor.id,
      accountId,
    ]);
  }
  const rows = (await query
    .where(`${table}.account_id`, accountId)
    .orderBy([
      { column: `${table}.created_at`, order: 'desc' },
      { column: `${table}.id`, order: 'desc' },
    ])
    .limit(opts.limit + 1)) as Row[];
  return { rows: rows.slice(0, opts.limit), hasMore: rows.length > opts.limit };
}
