/**
 * Postgres side of running a campaign: the campaign row's status, each recipient's send time and
 * link. Written by the campaign workflow's activities (and the start route's checks); every
 * statement is scoped to the account.
 */
import type { Channel, QuietHours } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import type { Recipient } from './recipients';
import { CAMPAIGN_STATUSES, type CampaignMode, type CampaignStatus, type CampaignThrottle } from './schema';
import type { CampaignRow } from './store';

export type { CampaignMode, CampaignRow, CampaignStatus, CampaignThrottle };

/**
 * The template as the engine reads it back from the row: the API validated it (schema.ts), and the
 * engine only needs these fields, any others passed through to the link unchanged.
 */
export interface LinkTemplate {
  amount?: number;
  currency: string;
  /** May hold {name}, {reference}, {amount} and {metadata.key}. */
  description?: string;
  channels?: Channel[];
  expires_in?: string;
  reminders?: { after_created?: string[]; before_expiry?: string[] };
  quiet_hours?: QuietHours | null;
  accept_partial?: boolean;
  max_payments?: number | null;
  metadata?: Record<string, string>;
  [field: string]: unknown;
}
export { CAMPAIGN_STATUSES };

export const isFinished = (status: CampaignStatus): boolean =>
  status === 'completed' || status === 'cancelled';

export type RecipientStatus = 'pending' | 'created' | 'failed' | 'cancelled';

/** A recipient as stored: what the import validated, plus where the run is with them. */
export interface RecipientRow extends Recipient {
  campaign_id: string;
  account_id: string;
  seq: number;
  send_at: Date | null;
  link_id: string | null;
  status: RecipientStatus;
  error: string | null;
}

/** How many recipients of each status, and the links made so far. */
export interface CampaignProgress {
  pending: number;
  created: number;
  failed: number;
  cancelled: number;
}

/** A zone's send instant, or the instant it was due when it is skipped. */
export interface ZoneSendTime {
  /** '' stands for "no zone of their own": the account's. */
  zone: string;
  at: string;
  skipped: boolean;
}

export const SKIPPED_ERROR = 'send_time_passed';

export function createCampaignStore(db: Db) {
  const recipients = (accountId: string, campaignId: string) =>
    db('campaign_recipients').where({ account_id: accountId, campaign_id: campaignId });

  return {
    async find(accountId: string, campaignId: string): Promise<CampaignRow | undefined> {
      return db('campaigns').where({ account_id: accountId, id: campaignId }).first();
    },

    async statusOf(accountId: string, campaignId: string): Promise<CampaignStatus | undefined> {
      const row = await db('campaigns').where({ account_id: accountId, id: campaignId }).first('status');
      return row?.status;
    },

    async countRecipients(accountId: string, campaignId: string): Promise<number> {
      const row = await recipients(accountId, campaignId).count<{ count: string }[]>('* as count').first();
      return Number(row?.count ?? 0);
    },

    async progress(accountId: string, campaignId: string): Promise<CampaignProgress> {
      const rows: { status: RecipientStatus; count: string }[] = await recipients(accountId, campaignId)
        .select('status')
        .count('* as count')
        .groupBy('status');
      const progress: CampaignProgress = { pending: 0, created: 0, failed: 0, cancelled: 0 };
      for (const r of rows) progress[r.status] = Number(r.count);
      return progress;
    },

    /**
     * Moves the campaign to `status`. A finished campaign never changes again, and the timestamps
     * of a step are written once (a retried write keeps the first).
     */
    async setStatus(accountId: string, campaignId: string, status: CampaignStatus): Promise<void> {
      await db('campaigns')
        .where({ account_id: accountId, id: campaignId })
        .whereNotIn('status', ['completed', 'cancelled'])
        .update({
          status,
          updated_at: db.fn.now(),
          ...(status === 'scheduled' || status === 'running'
            ? { started_at: db.raw('coalesce(started_at, now())') }
            : {}),
          ...(status === 'completed' ? { completed_at: db.raw('coalesce(completed_at, now())') } : {}),
          ...(status === 'cancelled' ? { cancelled_at: db.raw('coalesce(cancelled_at, now())') } : {}),
        });
    },

    /** A draft nobody started: cancelled in place (no workflow exists to ask). */
    async cancelDraft(accountId: string, campaignId: string): Promise<boolean> {
      const n = await db('campaigns')
        .where({ account_id: accountId, id: campaignId, status: 'draft' })
        .update({ status: 'cancelled', updated_at: db.fn.now(), cancelled_at: db.fn.now() });
      return n > 0;
    },

    async setSingleLink(accountId: string, campaignId: string, linkId: string): Promise<void> {
      await db('campaigns')
        .where({ account_id: accountId, id: campaignId })
        .update({ single_link_id: linkId, updated_at: db.fn.now() });
    },

    /** Every distinct zone of the campaign's recipients ('' for none): a few hundred at most. */
    async distinctZones(accountId: string, campaignId: string): Promise<string[]> {
      const rows: { zone: string }[] = await recipients(accountId, campaignId).distinct(
        db.raw(`coalesce(timezone, '') AS zone`),
      );
      return rows.map((r) => r.zone);
    },

    /** The distinct zones of the pending recipients ('' for none), in order, after `afterZone` (null: from the first). */
    async pendingZones(accountId: string, campaignId: string, afterZone: string | null, limit: number) {
      const query = recipients(accountId, campaignId).where('status', 'pending');
      if (afterZone !== null) query.whereRaw(`coalesce(timezone, '') > ?`, [afterZone]);
      const rows: { zone: string }[] = await query
        .distinct(db.raw(`coalesce(timezone, '') AS zone`))
        .orderBy('zone')
        .limit(limit);
      return rows.map((r) => r.zone);
    },

    /**
     * Sets the send time of every pending recipient of the given zones in one statement; the
     * recipients of a skipped zone are marked failed with SKIPPED_ERROR.
     */
    async applyZoneSendTimes(accountId: string, campaignId: string, times: ZoneSendTime[]): Promise<void> {
      if (times.length === 0) return;
      await db.raw(
        `UPDATE campaign_recipients r
            SET send_at = v.at,
                status = CASE WHEN v.skipped THEN 'failed' ELSE r.status END,
                error = CASE WHEN v.skipped THEN ? ELSE r.error END
           FROM unnest(?::text[], ?::timestamptz[], ?::boolean[]) AS v(zone, at, skipped)
          WHERE r.account_id = ? AND r.campaign_id = ? AND r.status = 'pending'
            AND coalesce(r.timezone, '') = v.zone`,
        [
          SKIPPED_ERROR,
          times.map((t) => t.zone),
          times.map((t) => t.at),
          times.map((t) => t.skipped),
          accountId,
          campaignId,
        ],
      );
    },

    /** Pending recipients due at `now`, soonest first, but those in `exclude` (pages still running). */
    async duePage(
      accountId: string,
      campaignId: string,
      now: Date,
      limit: number,
      exclude: number[] = [],
    ): Promise<number[]> {
      const query = recipients(accountId, campaignId).where('status', 'pending').where('send_at', '<=', now);
      if (exclude.length > 0) query.whereNotIn('seq', exclude);
      const rows: { seq: number }[] = await query
        .orderBy([{ column: 'send_at' }, { column: 'seq' }])
        .limit(limit)
        .select('seq');
      return rows.map((r) => r.seq);
    },

    /** The pending recipients of `seqs`, in that order. */
    async pendingBySeq(accountId: string, campaignId: string, seqs: number[]): Promise<RecipientRow[]> {
      if (seqs.length === 0) return [];
      const rows: RecipientRow[] = await recipients(accountId, campaignId)
        .where('status', 'pending')
        .whereIn('seq', seqs);
      const bySeq = new Map(rows.map((r) => [r.seq, r]));
      return seqs.flatMap((seq) => bySeq.get(seq) ?? []);
    },

    /** When the next pending recipient (not in `exclude`) is due; null when none is left. */
    async nextDueAt(accountId: string, campaignId: string, exclude: number[] = []): Promise<string | null> {
      const query = recipients(accountId, campaignId).where('status', 'pending');
      if (exclude.length > 0) query.whereNotIn('seq', exclude);
      const row = await query.min<{ at: Date | null }>('send_at as at').first();
      return row?.at ? row.at.toISOString() : null;
    },

    async markCreated(accountId: string, campaignId: string, seq: number, linkId: string): Promise<void> {
      await recipients(accountId, campaignId)
        .where({ seq, status: 'pending' })
        .update({ status: 'created', link_id: linkId, error: null });
    },

    /**
     * Many recipients' links at once (one statement, however many): pages record the links they
     * started in batches rather than one write per link, so the pool is not the bottleneck.
     */
    async markCreatedMany(
      accountId: string,
      campaignId: string,
      made: readonly { seq: number; linkId: string }[],
    ): Promise<void> {
      if (made.length === 0) return;
      await db.raw(
        `UPDATE campaign_recipients r
            SET status = 'created', link_id = v.link_id, error = NULL
           FROM (VALUES ${made.map(() => '(?::int, ?::text)').join(', ')}) AS v(seq, link_id)
          WHERE r.account_id = ? AND r.campaign_id = ? AND r.seq = v.seq AND r.status = 'pending'`,
        [...made.flatMap((m) => [m.seq, m.linkId]), accountId, campaignId],
      );
    },

    /** Which of these links' rows their workflows have stored. */
    async storedLinkIds(accountId: string, linkIds: readonly string[]): Promise<Set<string>> {
      if (linkIds.length === 0) return new Set();
      const rows: { id: string }[] = await db('payment_links')
        .where({ account_id: accountId })
        .whereIn('id', linkIds)
        .select('id');
      return new Set(rows.map((r) => r.id));
    },

    /** A recipient who may not be sent to yet (their quiet hours began): due again at `sendAt`. */
    async reschedule(accountId: string, campaignId: string, seq: number, sendAt: string): Promise<void> {
      await recipients(accountId, campaignId).where({ seq, status: 'pending' }).update({ send_at: sendAt });
    },

    async markFailed(accountId: string, campaignId: string, seq: number, error: string): Promise<void> {
      await recipients(accountId, campaignId)
        .where({ seq, status: 'pending' })
        .update({ status: 'failed', error });
    },

    /** A cancelled campaign sends nothing more: every recipient still waiting is cancelled. */
    async cancelPending(accountId: string, campaignId: string): Promise<number> {
      return recipients(accountId, campaignId).where('status', 'pending').update({ status: 'cancelled' });
    },

    /** Links made for recipients, by seq, after `afterSeq`. */
    async createdLinks(accountId: string, campaignId: string, afterSeq: number, limit: number) {
      const rows: { seq: number; link_id: string }[] = await recipients(accountId, campaignId)
        .where('status', 'created')
        .whereNotNull('link_id')
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .select('seq', 'link_id');
      return rows;
    },
  };
}

export type CampaignStore = ReturnType<typeof createCampaignStore>;
