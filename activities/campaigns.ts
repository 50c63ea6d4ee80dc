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
  /** Links are made and cancelled exactly as the API makes and cancels them. */
  linkService: LinkService;
  findAccount(accountId: string): Promise<AuthenticatedAccount | undefined>;
  logger: Logger;
  /** Link creations of one page running at once (each waits for its workflow to store the row). */
  maxInFlight?: number;
}

/** How often a running page looks whether its campaign was paused or cancelled. */
const STATUS_CHECK_MS = 200;

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
  const maxInFlight = deps.maxInFlight ?? 16;

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
        try {
          const linkId = campaignLinkId(campaign.id, recipient.seq);
          const row = await linkService.create(account, built.body, { linkId });
          await campaigns.markCreated(input.accountId, input.campaignId, recipient.seq, row.id);
          created++;
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
            const wait = input.firstSlotAt + i * input.intervalMs - Date.now();
            if (wait > 0) await ctx.sleep(wait); // throws once the activity is cancelled
            if (errors.length > 0 || (await haltedNow())) break;
            while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
            const making: Promise<void> = makeOne(recipient)
              .catch((err: unknown) => void errors.push(err))
              .finally(() => inFlight.delete(making));
            inFlight.add(making);
          }
        } finally {
          // Nothing is left running behind the activity's back, even when it is cancelled.
          await Promise.all(inFlight);
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
