/**
 * A campaign's recipients with what became of them: a page for the API, every one of them for
 * results.csv. Both read recipients in seq order, a page (or a batch) per statement, joined to
 * their link, its figures and their messages, so a 100,000-recipient campaign streams in
 * constant memory.
 */
import type { Readable } from 'node:stream';
import { pipeline, Readable as ReadableStream } from 'node:stream';
import { stringify } from 'csv-stringify';
import { z } from 'zod';
import { LINK_STATUSES } from '../../workflows/payment-link/contract';
import { PaginationSchema } from '../api/pagination';
import type { Db } from '../db/knex';
import { linkUrl } from '../links/serialize';
import { inertCell } from './inert-cell';
import type { Recipient } from './recipients';
import type { CampaignRow } from './types';

export const RECIPIENT_STATUSES = ['pending', 'created', 'failed', 'cancelled'] as const;

export const RecipientsQuerySchema = z.strictObject({
  limit: PaginationSchema.shape.limit,
  starting_after: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('The seq of the last recipient of the previous page'),
  status: z.enum(RECIPIENT_STATUSES).optional().describe("The recipient's own status (its link made or not)"),
  link_status: z.enum(LINK_STATUSES).optional().describe("Its link's status"),
});
export type RecipientsQuery = z.output<typeof RecipientsQuerySchema>;

interface RecipientResultRow extends Recipient {
  seq: number;
  status: string;
  error: string | null;
  send_at: Date | null;
  link_id: string | null;
  created_at: Date;
  token: string | null;
  link_status: string | null;
  amount_paid: number | null;
  messages_sent: number;
  messages_delivered: number;
  messages_failed: number;
  viewed_at: Date | null;
  paid_at: Date | null;
}

/** Recipients after `after` (seq), with their link, its figures and their messages' counts. */
function recipientsAfter(
  db: Db,
  campaign: CampaignRow,
  after: number,
  limit: number,
  q: Partial<RecipientsQuery> = {},
) {
  const query = db('campaign_recipients as r')
    .leftJoin('payment_links as l', (j) => j.on('l.id', 'r.link_id').andOn('l.account_id', 'r.account_id'))
    .leftJoin('link_analytics as a', 'a.link_id', 'r.link_id')
    .joinRaw(
      `LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE n.sent_at IS NOT NULL)::int AS messages_sent,
                count(*) FILTER (WHERE n.status = 'delivered')::int AS messages_delivered,
                count(*) FILTER (WHERE n.status IN ('failed', 'undelivered'))::int AS messages_failed
           FROM notifications n WHERE n.link_id = r.link_id AND n.account_id = r.account_id) m ON true`,
    )
    .where({ 'r.campaign_id': campaign.id, 'r.account_id': campaign.account_id })
    .andWhere('r.seq', '>', after)
    .select(
      'r.seq',
      'r.name',
      'r.email',
      'r.phone',
      'r.locale',
      'r.timezone',
      'r.amount',
      'r.reference',
      'r.metadata',
      'r.status',
      'r.error',
      'r.send_at',
      'r.link_id',
      'r.created_at',
      'l.token',
      'l.status as link_status',
      'l.amount_paid',
      'm.messages_sent',
      'm.messages_delivered',
      'm.messages_failed',
      'a.first_viewed_at as viewed_at',
      'a.paid_at',
    )
    .orderBy('r.seq')
    .limit(limit);
  if (q.status) query.andWhere('r.status', q.status);
  if (q.link_status) query.andWhere('l.status', q.link_status);
  return query as Promise<RecipientResultRow[]>;
}

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export function serializeRecipient(campaign: CampaignRow, r: RecipientResultRow, publicBaseUrl: string) {
  return {
    object: 'campaign_recipient' as const,
    campaign: campaign.id,
    seq: r.seq,
    name: r.name,
    email: r.email,
    phone: r.phone,
    locale: r.locale,
    timezone: r.timezone,
    amount: r.amount ?? campaign.link.amount ?? null,
    currency: campaign.link.currency,
    reference: r.reference,
    metadata: r.metadata,
    status: r.status,
    error: r.error,
    send_at: isoOrNull(r.send_at),
    link_id: r.link_id,
    link_url: r.token ? linkUrl(publicBaseUrl, r.token) : null,
    link_status: r.link_status,
    amount_paid: r.amount_paid ?? 0,
    messages_sent: r.messages_sent,
    viewed_at: isoOrNull(r.viewed_at),
    paid_at: isoOrNull(r.paid_at),
    created_at: r.created_at.toISOString(),
  };
}

export async function listRecipients(
  db: Db,
  campaign: CampaignRow,
  q: RecipientsQuery,
  publicBaseUrl: string,
) {
  const rows = await recipientsAfter(db, campaign, q.starting_after ?? 0, q.limit + 1, q);
  return {
    object: 'list' as const,
    data: rows.slice(0, q.limit).map((r) => serializeRecipient(campaign, r, publicBaseUrl)),
    has_more: rows.length > q.limit,
  };
}

/** Recipients (or payments) per statement while streaming results.csv. */
export const RESULTS_BATCH = 1000;

export const RECIPIENT_RESULT_COLUMNS = [
  'seq',
  'name',
  'email',
  'phone',
  'reference',
  'amount',
  'currency',
  'recipient_status',
  'error',
  'link_id',
  'url',
  'link_status',
  'messages_sent',
  'messages_delivered',
  'messages_failed',
  'viewed',
  'viewed_at',
  'amount_paid',
  'paid_at',
] as const;

export const PAYMENT_RESULT_COLUMNS = [
  'payment_id',
  'link_id',
  'url',
  'status',
  'amount',
  'amount_refunded',
  'currency',
  'provider',
  'paid_at',
] as const;

interface PaymentResultRow {
  id: string;
  link_id: string;
  token: string;
  status: string;
  amount: number;
  amount_refunded: number;
  currency: string;
  provider: string;
  created_at: Date;
  cursor_at: string;
}

function paymentsAfter(db: Db, campaign: CampaignRow, after: { at: string; id: string } | undefined) {
  const query = db('payments as p')
    .join('payment_links as l', 'l.id', 'p.link_id')
    .where({
      'l.account_id': campaign.account_id,
      'l.campaign_id': campaign.id,
      'p.account_id': campaign.account_id,
    })
    .select(
      'p.id',
      'p.link_id',
      'l.token',
      'p.status',
      'p.amount',
      'p.amount_refunded',
      'p.currency',
      'p.provider',
      'p.created_at',
      // The cursor keeps Postgres's microseconds; a JS Date would round them to milliseconds.
      db.raw('p.created_at::text AS cursor_at'),
    )
    .orderBy([
      { column: 'p.created_at', order: 'asc' },
      { column: 'p.id', order: 'asc' },
    ])
    .limit(RESULTS_BATCH);
  if (after) query.whereRaw('(p.created_at, p.id) > (?::timestamptz, ?)', [after.at, after.id]);
  return query as Promise<PaymentResultRow[]>;
}

/**
 * results.csv as a stream of text. The first batch is read before the stream is returned, so a
 * database that does not answer is still an API error (503), not a cut download.
 */
export async function resultsCsv(db: Db, campaign: CampaignRow, publicBaseUrl: string): Promise<Readable> {
  const url = (token: string | null) => (token ? linkUrl(publicBaseUrl, token) : null);
  let records: AsyncIterable<Record<string, unknown>>;
  let columns: readonly string[];
  if (campaign.mode === 'single_link') {
    columns = PAYMENT_RESULT_COLUMNS;
    let batch = await paymentsAfter(db, campaign, undefined);
    records = (async function* () {
      while (batch.length > 0) {
        for (const p of batch)
          yield {
            payment_id: p.id,
            link_id: p.link_id,
            url: url(p.token),
            status: p.status,
            amount: p.amount,
            amount_refunded: p.amount_refunded,
            currency: p.currency,
            provider: p.provider,
            paid_at: p.created_at,
          };
        if (batch.length < RESULTS_BATCH) return;
        const last = batch[batch.length - 1] as PaymentResultRow;
        batch = await paymentsAfter(db, campaign, { at: last.cursor_at, id: last.id });
      }
    })();
  } else {
    columns = RECIPIENT_RESULT_COLUMNS;
    let batch = await recipientsAfter(db, campaign, 0, RESULTS_BATCH);
    records = (async function* () {
      while (batch.length > 0) {
        for (const r of batch)
          yield {
            seq: r.seq,
            name: r.name,
            email: r.email,
            phone: r.phone,
            reference: r.reference,
            amount: r.amount ?? campaign.link.amount ?? null,
            currency: campaign.link.currency,
            recipient_status: r.status,
            error: r.error,
            link_id: r.link_id,
            url: url(r.token),
            link_status: r.link_status,
            messages_sent: r.messages_sent,
            messages_delivered: r.messages_delivered,
            messages_failed: r.messages_failed,
            viewed: r.viewed_at !== null,
            viewed_at: r.viewed_at,
            amount_paid: r.amount_paid ?? 0,
            paid_at: r.paid_at,
          };
        if (batch.length < RESULTS_BATCH) return;
        batch = await recipientsAfter(
          db,
          campaign,
          (batch[batch.length - 1] as RecipientResultRow).seq,
          RESULTS_BATCH,
        );
      }
    })();
  }
  // pipeline, not pipe: a batch that fails later destroys the CSV stream (a cut download), never
  // leaves it waiting forever.
  return pipeline(
    ReadableStream.from(records),
    stringify({
      header: true,
      columns: [...columns],
      cast: {
        date: (d) => d.toISOString(),
        boolean: (b) => (b ? 'true' : 'false'),
        // results.csv is opened in spreadsheets: no cell, whoever wrote it, may run as a formula.
        string: (value, context) => (context.header ? value : inertCell(value, context.column)),
      },
    }),
    () => {},
  );
}
