import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { DateTime } from 'luxon';
import type { AuthenticatedAccount } from '../src/accounts/accounts';
import { ApiError } from '../src/api/errors';
import type {
  CampaignStatus,
  CampaignStore,
  RecipientRow,
  ZoneSendTime,
} from '../src/campaigns/campaign-store';
import { campaignLinkId, recipientLinkBody, singleLinkBody } from '../src/campaigns/recipient-link';
import { quietUntil, sendTimeFor, templateQuietHours, zoneOr } from '../src/campaigns/send-times';
import type { LinkService } from '../src/links/link-service';
import type { Logger } from '../src/logger';
import type {
  CancelLinksResult,
  Claimed,
  ClaimInput,
  PageInput,
  PageResult,
  ZonesScheduled,
} from '../workflows/campaign/contract';

export interface CampaignActivityDeps {
  campaigns: CampaignStore;
  /** Links are started and cancelled through the API's link service (same terms, same workflow). */
  linkService: LinkService;
  findAccount(accountId: string): Promise<AuthenticatedAccount | undefined>;
  logger: Logger;
  /** Link creations of one page running at once (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

/** How often a running page looks whether its campaign was paused or cancelled. */
const STATUS_CHECK_MS = 200;

/** How often a page looks for the rows of the links it started (one query for all of them). */
const CONFIRM_EVERY_MS = 250;

/** A started link still without a row this long: its run is asked whether it refused the link. */
const REFUSAL_CHECK_AFTER_MS = 3000;
const REFUSAL_CHECKS_PER_ROUND = 8;

/**
 * Link starts of one page at once. A start is one Temporal RPC and holds no Postgres connection
 * (the rows are confirmed and recorded in batches: one read and one write per CONFIRM_EVERY_MS
 * per page), so this bounds RPCs, not the pool: with MAX_RUNNING_PAGES (3) a campaign needs at
 * most a few of the 10 connections WORKER_POOL_MAX leaves beside the local activities, where
 * before every creation held slots of the pool for its reads and its write while up to 48 waited.
 */
const DEFAULT_MAX_IN_FLIGHT = 16;

interface CampaignRef {
  campaignId: string;
  accountId: string;
}

/**
 * A refusal of the link itself (4xx other than 429, or its workflow refusing to store it):
 * retrying the same request cannot help.
 */
const isRefusal = (err: unknown): err is ApiError =>
  err instanceof ApiError &&
  ((err.status >= 400 && err.status < 500 && err.status !== 429) || err.code === 'link_not_created');

export function createCampaignActivities(deps: CampaignActivityDeps) {
  const { campaigns, linkService, logger } = deps;
  const maxInFlight = deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;

  /**
   * The throttle as a ceiling: the i-th link of a page is due at its slot, but never sooner than
   * one interval after the campaign's previous link on this worker, and never more than one
   * interval in the past: a late page does not burst to catch up (what is lost to lateness stays
   * lost), so any window of W seconds holds at most rate × W + 2 starts from this worker. Pages of
   * one campaign overlap (one pacing, others confirming; a late one's tail), so the last slot is
   * kept per campaign, not per page. Slots are reserved on the clock, not taken from when the
   * sleep returned, so timer jitter shorter than an interval costs no rate.
   */
  const lastSlotAt = new Map<string, number>();
  function nextSlot(campaignId: string, slot: number, intervalMs: number): number {
    const at = Math.max(slot, (lastSlotAt.get(campaignId) ?? 0) + intervalMs, Date.now() - intervalMs);
    lastSlotAt.set(campaignId, at);
    return at;
  }

  async function load({ campaignId, accountId }: CampaignRef) {
    const [campaign, account] = await Promise.all([
      campaigns.find(accountId, campaignId),
      deps.findAccount(accountId),
    ]);
    if (!campaign || !account) {
      throw ApplicationFailure.nonRetryable(`campaign ${campaignId} of account ${accountId} does not exist`);
    }
    return { campaign, account };
  }

  /** Beats while a long step runs, so a worker that died is noticed within the heartbeat timeout. */
  function heartbeating<T>(work: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(), 1000);
    return work().finally(() => clearInterval(timer));
  }

  return {
    /** Writes the campaign's status (and its started/completed/cancelled time once); safe to retry. */
    async setCampaignStatus(input: CampaignRef & { status: CampaignStatus }): Promise<void> {
      await campaigns.setStatus(input.accountId, input.campaignId, input.status);
    },

    /**
     * Sets the send time of the pending recipients of up to `limit` zones: one computation and
     * one UPDATE per page of zones, whatever the number of recipients. Safe to retry.
     */
    async scheduleCampaignZones(
      input: CampaignRef & { startedAt: string; afterZone: string | null; limit: number },
    ): Promise<ZonesScheduled> {
      const { campaign, account } = await load(input);
      const zones = await campaigns.pendingZones(
        input.accountId,
        input.campaignId,
        input.afterZone,
        input.limit,
      );
      const quietHours = templateQuietHours(campaign.link);
      const times: ZoneSendTime[] = zones.map((zone) => {
        const t = sendTimeFor({
          schedule: campaign.schedule,
          startedAt: input.startedAt,
          zone: zoneOr(zone, account.timezone),
          quietHours,
        });
        return 'sendAt' in t ? { zone, at: t.sendAt, skipped: false } : { zone, at: t.dueAt, skipped: true };
      });
      await campaigns.applyZoneSendTimes(input.accountId, input.campaignId, times);
      return { lastZone: zones.at(-1) ?? input.afterZone, done: zones.length < input.limit };
    },

    async nextCampaignDueAt(input: CampaignRef): Promise<string | null> {
      return campaigns.nextDueAt(input.accountId, input.campaignId);
    },

    /** The next page: recipients due now that no running page holds, and when the next is due. */
    async claimCampaignPage(input: ClaimInput): Promise<Claimed> {
      const { accountId, campaignId, exclude } = input;
      const seqs = await campaigns.duePage(accountId, campaignId, new Date(), input.limit, exclude);
      return { seqs, nextDueAt: await campaigns.nextDueAt(accountId, campaignId, [...exclude, ...seqs]) };
    },

    /**
     * Makes the links of the claimed recipients (those still pending), the i-th not before
     * `firstSlotAt + i × intervalMs` (the throttle); one whose quiet hours have begun meanwhile
     * is put off to their end. Each link is its own payment-link workflow,
     * started as the API starts one, under an id derived from (campaign, seq): a retried page
     * finds the links it already made. A recipient the link schema refuses is marked failed.
     */
    async createCampaignLinks(input: PageInput): Promise<PageResult> {
      const ctx = Context.current();
      const { campaign, account } = await load(input);
      const due = await campaigns.pendingBySeq(input.accountId, input.campaignId, input.seqs);
      const quietHours = templateQuietHours(campaign.link);
      let created = 0;
      let failed = 0;
      let deferred = 0;

      const makeOne = async (recipient: RecipientRow) => {
        // Due before the window began but reached after (the campaign is behind): not tonight.
        const until = quietUntil(DateTime.utc(), zoneOr(recipient.timezone, account.timezone), quietHours);
        if (until) {
          await campaigns.reschedule(input.accountId, input.campaignId, recipient.seq, until);
          deferred++;
          return;
        }
        const built = recipientLinkBody(campaign.link, recipient, campaign.id);
        if (!built.ok) {
          await campaigns.markFailed(input.accountId, input.campaignId, recipient.seq, built.error);
          failed++;
          return;
        }
        const linkId = campaignLinkId(campaign.id, recipient.seq);
        try {
          // Only the start is waited for (durable, and a retry finds it); the row is confirmed
          // below, in batches, so the throttle's pace is not held up by the workflows' writes.
          await linkService.startOnly(account, built.body, { linkId });
          unconfirmed.set(linkId, { seq: recipient.seq, since: Date.now() });
        } catch (err) {
          if (!isRefusal(err)) throw err;
          await campaigns.markFailed(
            input.accountId,
            input.campaignId,
            recipient.seq,
            `${err.code}: ${err.message}`,
          );
          failed++;
        }
      };

      /**
       * Started links whose rows are not known to exist yet. A recipient is `created` only once
       * its link's row is stored (what progress, results and the API show), and `failed` when its
       * workflow ended without storing it (it refused the link: a reference another link holds,
       * data Postgres refuses). Both are written in batches, one statement each.
       */
      const unconfirmed = new Map<string, { seq: number; since: number }>();
      let confirmedAt = 0;
      let confirming: Promise<void> | undefined;
      const confirm = async () => {
        confirmedAt = Date.now();
        if (unconfirmed.size === 0) return;
        const ids = [...unconfirmed.keys()];
        const stored = await campaigns.storedLinkIds(input.accountId, ids);
        const made = ids
          .filter((id) => stored.has(id))
          .map((id) => ({ seq: (unconfirmed.get(id) as { seq: number }).seq, linkId: id }));
        await campaigns.markCreatedMany(input.accountId, input.campaignId, made);
        for (const { linkId } of made) unconfirmed.delete(linkId);
        created += made.length;
        // Long without a row: has its run ended (refused)? A few at a time, oldest first.
        const overdue = [...unconfirmed.entries()]
          .filter(([, u]) => Date.now() - u.since >= REFUSAL_CHECK_AFTER_MS)
          .slice(0, REFUSAL_CHECKS_PER_ROUND);
        await Promise.all(
          overdue.map(async ([linkId, u]) => {
            const why = await linkService.whyNotStored(linkId);
            if (why === null) {
              u.since = Date.now(); // still running: look again later
              return;
            }
            // Stored just before its run ended (a link cancelled at once): created after all.
            if ((await campaigns.storedLinkIds(input.accountId, [linkId])).size > 0) {
              await campaigns.markCreatedMany(input.accountId, input.campaignId, [{ seq: u.seq, linkId }]);
              created++;
            } else {
              await campaigns.markFailed(
                input.accountId,
                input.campaignId,
                u.seq,
                `link_not_created: ${why}`,
              );
              failed++;
            }
            unconfirmed.delete(linkId);
          }),
        );
      };

      // A paused or cancelled campaign's status is written before its pages are waited for:
      // read it now and then, and stop making links.
      let checkedAt = 0;
      let halted = false;
      const haltedNow = async () => {
        if (!halted && Date.now() - checkedAt >= STATUS_CHECK_MS) {
          checkedAt = Date.now();
          const status = await campaigns.statusOf(input.accountId, input.campaignId);
          halted = status === 'paused' || status === 'cancelled';
        }
        return halted;
      };

      return heartbeating(async () => {
        const inFlight = new Set<Promise<void>>();
        const errors: unknown[] = [];
        try {
          for (const [i, recipient] of due.entries()) {
            // Beside the pacing, one at a time, so its queries never make a link late.
            if (!confirming && Date.now() - confirmedAt >= CONFIRM_EVERY_MS) {
              confirming = confirm()
                .catch((err: unknown) => void errors.push(err))
                .finally(() => {
                  confirming = undefined;
                });
            }
            while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
            const at = nextSlot(input.campaignId, input.firstSlotAt + i * input.intervalMs, input.intervalMs);
            const wait = at - Date.now();
            if (wait > 0) await ctx.sleep(wait); // throws once the activity is cancelled
            if (errors.length > 0 || (await haltedNow())) break;
            const making: Promise<void> = makeOne(recipient)
              .catch((err: unknown) => void errors.push(err))
              .finally(() => inFlight.delete(making));
            inFlight.add(making);
          }
        } finally {
          // Nothing is left running behind the activity's back, even when it is cancelled.
          await Promise.all(inFlight);
          await confirming;
        }
        // The page ends once every link it started is stored or known refused; stopped early
        // (paused, cancelled), the links already started are still recorded.
        while (errors.length === 0 && unconfirmed.size > 0 && !ctx.cancellationSignal.aborted) {
          await confirm();
          if (unconfirmed.size > 0) await ctx.sleep(CONFIRM_EVERY_MS);
        }
        if (errors.length > 0) {
          logger.warn(
            { campaignId: campaign.id, err: errors[0] },
            'campaign page failed; it will be retried',
          );
          throw errors[0];
        }
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('page cancelled');
        return { created, failed, deferred };
      });
    },

    /** A cancelled campaign: everyone still waiting is cancelled. Safe to retry. */
    async cancelCampaignPending(input: CampaignRef): Promise<number> {
      return campaigns.cancelPending(input.accountId, input.campaignId);
    },

    /**
     * Cancels the next `limit` links the campaign made (after recipient `afterSeq`), each through
     * its workflow's cancel update as the API does; a link already closed stays as it is. The
     * first page also cancels a single-link campaign's link.
     */
    async cancelCampaignLinks(
      input: CampaignRef & { afterSeq: number; limit: number },
    ): Promise<CancelLinksResult> {
      const { campaign, account } = await load(input);
      const rows = await campaigns.createdLinks(
        input.accountId,
        input.campaignId,
        input.afterSeq,
        input.limit,
      );
      const ids = rows.map((r) => r.link_id);
      if (input.afterSeq === 0 && campaign.single_link_id) ids.push(campaign.single_link_id);
      return heartbeating(async () => {
        const results = await Promise.allSettled(
          ids.map((id) => linkService.cancel(account, id, { reason: 'campaign_cancelled' })),
        );
        const failure = results.find(
          (r): r is PromiseRejectedResult => r.status === 'rejected' && !isRefusal(r.reason),
        );
        if (failure) throw failure.reason;
        return { lastSeq: rows.at(-1)?.seq ?? input.afterSeq, done: rows.length < input.limit };
      });
    },

    /** A single-link campaign's one link (multi-use, no channels), made once; returns it. */
    async createCampaignSingleLink(input: CampaignRef): Promise<{ id: string; expiresAt: string }> {
      const { campaign, account } = await load(input);
      const built = singleLinkBody(campaign.link, campaign.id);
      if (!built.ok) throw ApplicationFailure.nonRetryable(`the campaign's link is invalid: ${built.error}`);
      try {
        const row = await linkService.create(account, built.body, { linkId: campaignLinkId(campaign.id, 0) });
        await campaigns.setSingleLink(input.accountId, input.campaignId, row.id);
        return { id: row.id, expiresAt: row.expires_at.toISOString() };
      } catch (err) {
        if (isRefusal(err))
          throw ApplicationFailure.nonRetryable(`the campaign's link was refused: ${err.message}`);
        throw err;
      }
    },
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;
