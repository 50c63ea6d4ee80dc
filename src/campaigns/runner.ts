/**
 * The campaigns service's side of a run: what each step of the campaign workflow does in Postgres
 * and through the link service. The worker's activities (activities/campaigns.ts) are thin
 * adapters over these functions; every one is safe to retry. Failures that no retry can fix are
 * CampaignRunErrors with a code (errors.ts); anything else thrown is worth retrying.
 */
import type {
  CampaignRef,
  CancelLinksInput,
  CancelLinksResult,
  Claimed,
  ClaimInput,
  PageInput,
  PageResult,
  ScheduleZonesInput,
  SingleLink,
  StatusChange,
  ZonesScheduled,
} from '../../workflows/campaign/activities';
import type { AuthenticatedAccount } from '../accounts/accounts';
import type { LinkService } from '../links/link-service';
import type { Logger } from '../logger';
import { CampaignRunError } from './errors';
import { isLinkRefusal } from './link-refusal';
import { createPacer } from './pacing';
import { DEFAULT_MAX_IN_FLIGHT, makeLinksPage, type PageWork } from './pages';
import { campaignLinkId, singleLinkBody } from './recipient-link';
import { sendTimeFor, templateQuietHours, zoneOr } from './send-times';
import type { CampaignStore } from './store';
import type { ZoneSendTime } from './types';

export interface CampaignRunnerDeps {
  campaigns: CampaignStore;
  /** Links are started and cancelled through the API's link service (same terms, same workflow). */
  linkService: LinkService;
  findAccount(accountId: string): Promise<AuthenticatedAccount | undefined>;
  logger: Logger;
  /** Link creations of one page running at once (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

export function createCampaignRunner(deps: CampaignRunnerDeps) {
  const { campaigns, linkService } = deps;
  const pageDeps = {
    campaigns,
    linkService,
    logger: deps.logger,
    pacer: createPacer(),
    maxInFlight: deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  };

  async function load({ campaignId, accountId }: CampaignRef) {
    const [campaign, account] = await Promise.all([
      campaigns.find(accountId, campaignId),
      deps.findAccount(accountId),
    ]);
    if (!campaign || !account)
      throw new CampaignRunError(
        'campaign_not_found',
        `campaign ${campaignId} of account ${accountId} does not exist`,
      );
    return { campaign, account };
  }

  return {
    /** Writes the campaign's status (and its started/completed/cancelled time once). */
    async setStatus(input: StatusChange): Promise<void> {
      await campaigns.setStatus(input.accountId, input.campaignId, input.status);
    },

    /**
     * Sets the send time of the pending recipients of up to `limit` zones: one computation and
     * one UPDATE per page of zones, whatever the number of recipients.
     */
    async scheduleZones(input: ScheduleZonesInput): Promise<ZonesScheduled> {
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

    async nextDueAt(input: CampaignRef): Promise<string | null> {
      return campaigns.nextDueAt(input.accountId, input.campaignId);
    },

    /** The next page: recipients due now that no running page holds, and when the next is due. */
    async claimPage(input: ClaimInput): Promise<Claimed> {
      const { accountId, campaignId, exclude } = input;
      const seqs = await campaigns.duePage(accountId, campaignId, new Date(), input.limit, exclude);
      return { seqs, nextDueAt: await campaigns.nextDueAt(accountId, campaignId, [...exclude, ...seqs]) };
    },

    /** Makes a claimed page's links at the throttle's pace (pages.ts). */
    async makeLinks(input: PageInput, work: PageWork): Promise<PageResult> {
      return makeLinksPage(pageDeps, await load(input), input, work);
    },

    /** A cancelled campaign: everyone still waiting is cancelled. */
    async cancelPending(input: CampaignRef): Promise<number> {
      return campaigns.cancelPending(input.accountId, input.campaignId);
    },

    /**
     * Cancels the next `limit` links the campaign made (after recipient `afterSeq`), each through
     * its workflow's cancel update as the API does; a link already closed stays as it is. The
     * first page also cancels a single-link campaign's link.
     */
    async cancelLinks(input: CancelLinksInput): Promise<CancelLinksResult> {
      const { campaign, account } = await load(input);
      const rows = await campaigns.createdLinks(
        input.accountId,
        input.campaignId,
        input.afterSeq,
        input.limit,
      );
      const ids = rows.map((r) => r.link_id);
      if (input.afterSeq === 0 && campaign.single_link_id) ids.push(campaign.single_link_id);
      const results = await Promise.allSettled(
        ids.map((id) => linkService.cancel(account, id, { reason: 'campaign_cancelled' })),
      );
      const failure = results.find(
        (r): r is PromiseRejectedResult => r.status === 'rejected' && !isLinkRefusal(r.reason),
      );
      if (failure) throw failure.reason;
      return { lastSeq: rows.at(-1)?.seq ?? input.afterSeq, done: rows.length < input.limit };
    },

    /** A single-link campaign's one link (multi-use, no channels), made once; returns it. */
    async createSingleLink(input: CampaignRef): Promise<SingleLink> {
      const { campaign, account } = await load(input);
      const built = singleLinkBody(campaign.link, campaign.id);
      if (!built.ok)
        throw new CampaignRunError('link_invalid', `the campaign's link is invalid: ${built.error}`);
      try {
        const row = await linkService.create(account, built.body, { linkId: campaignLinkId(campaign.id, 0) });
        await campaigns.setSingleLink(input.accountId, input.campaignId, row.id);
        return { id: row.id, expiresAt: row.expires_at.toISOString() };
      } catch (err) {
        if (isLinkRefusal(err))
          throw new CampaignRunError('link_refused', `the campaign's link was refused: ${err.message}`);
        throw err;
      }
    },
  };
}

export type CampaignRunner = ReturnType<typeof createCampaignRunner>;
