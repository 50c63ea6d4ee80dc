/**
 * Campaigns and their recipients in Postgres: the one store of the campaigns feature, used by the
 * API (create, list, import) and by the run's activities (status, send times, links). Every
 * statement is scoped to the account. Adding an import's recipients is in recipient-insert.ts.
 */
import type { CampaignMode, CampaignStatus } from '../../workflows/campaign/contract';
import { paginate } from '../api/pagination';
import type { Db } from '../db/knex';
import { insertRecipients } from './recipient-insert';
import type { Recipient } from './recipients';
import type { CampaignRow, NewCampaign, RecipientRow, ZoneSendTime } from './types';

const json = (value: unknown) => JSON.stringify(value);

/** What a recipient whose zone's send time had passed at the start is marked failed with. */
export const SKIPPED_ERROR = 'send_time_passed';

export interface CampaignListQuery {
  limit: number;
  starting_after?: string;
  status?: CampaignStatus;
  mode?: CampaignMode;
}

export function createCampaignStore(db: Db) {
  const recipients = (accountId: string, campaignId: string) =>
    db('campaign_recipients').where({ account_id: accountId, campaign_id: campaignId });

  return {
    // ---- the campaign row ----

    async insert(c: NewCampaign): Promise<CampaignRow> {
      const [row] = await db('campaigns')
        .insert({
          id: c.id,
          account_id: c.accountId,
          name: c.name,
          mode: c.mode,
          status: 'draft',
          link: json(c.link),
          schedule: c.schedule === null ? null : json(c.schedule),
          throttle: json(c.throttle),
        })
        // An idempotent retry reuses the reserved id: the row it made is the answer.
        .onConflict('id')
        .ignore()
        .returning('*');
      return (row as CampaignRow | undefined) ?? ((await this.find(c.accountId, c.id)) as CampaignRow);
    },

    async find(accountId: string, campaignId: string): Promise<CampaignRow | undefined> {
      return db('campaigns').where({ account_id: accountId, id: campaignId }).first();
    },

    /** The account's campaigns, newest first, a page at a time. */
    async list(accountId: string, q: CampaignListQuery) {
      return paginate<CampaignRow>(db, 'campaigns', accountId, q, (query) => {
        if (q.status) query.where('campaigns.status', q.status);
        if (q.mode) query.where('campaigns.mode', q.mode);
      });
    },

    async statusOf(accountId: string, campaignId: string): Promise<CampaignStatus | undefined> {
      const row = await db('campaigns').where({ account_id: accountId, id: campaignId }).first('status');
      return row?.status;
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

    // ---- recipients: the import ----

    /** See insertRecipients: adds a batch under the campaign's lock, if `editable` still says so. */
    addRecipients: (
      accountId: string,
      campaignId: string,
      batch: Recipient[],
      editable: (c: CampaignRow) => boolean,
    ) => insertRecipients(db, accountId, campaignId, batch, editable),

    async countRecipients(accountId: string, campaignId: string): Promise<number> {
      const row = await recipients(accountId, campaignId).count<{ count: string }[]>('* as count').first();
      return Number(row?.count ?? 0);
    },

    // ---- recipients: the run ----

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
