/**
 * One page of a campaign's run: the links of the claimed recipients (those still pending), the
 * i-th not before `firstSlotAt + i × intervalMs` (the throttle, pacing.ts); one whose quiet hours
 * have begun meanwhile is put off to their end. Each link is its own payment-link workflow,
 * started as the API starts one, under an id derived from (campaign, seq): a retried page finds
 * the links it already made. A recipient the link schema refuses is marked failed.
 */
import { DateTime } from 'luxon';
import type { PageInput, PageResult } from '../../workflows/campaign/activities';
import type { AuthenticatedAccount } from '../accounts/accounts';
import type { LinkService } from '../links/link-service';
import type { Logger } from '../logger';
import { CampaignRunError } from './errors';
import { isLinkRefusal } from './link-refusal';
import type { Pacer } from './pacing';
import { campaignLinkId, recipientLinkBody } from './recipient-link';
import { quietUntil, templateQuietHours, zoneOr } from './send-times';
import type { CampaignStore } from './store';
import type { CampaignRow, RecipientRow } from './types';

/** How often a running page looks whether its campaign was paused or cancelled. */
export const STATUS_CHECK_MS = 200;

/** How often a page looks for the rows of the links it started (one query for all of them). */
const CONFIRM_EVERY_MS = 250;

/** A started link still without a row this long: its run is asked whether it refused the link. */
const REFUSAL_CHECK_AFTER_MS = 3000;
const REFUSAL_CHECKS_PER_ROUND = 8;

/**
 * Link starts of one page at once. A start is one Temporal RPC and holds no Postgres connection
 * (the rows are confirmed and recorded in batches: one read and one write per CONFIRM_EVERY_MS
 * per page), so this bounds RPCs, not the pool: with the workflow's MAX_RUNNING_PAGES (3) a
 * campaign needs at most a few of the 10 connections WORKER_POOL_MAX leaves beside the local
 * activities, where before every creation held slots of the pool for its reads and its write
 * while up to 48 waited.
 */
export const DEFAULT_MAX_IN_FLIGHT = 16;

export interface PageDeps {
  campaigns: CampaignStore;
  /** Links are started through the API's link service (same terms, same workflow). */
  linkService: LinkService;
  logger: Logger;
  pacer: Pacer;
  maxInFlight: number;
}

/** What the page runs under: its activity's clock and cancellation. */
export interface PageWork {
  /** Waits `ms`; rejects once the page is asked to stop. */
  sleep(ms: number): Promise<void>;
  /** Aborted once the page is asked to stop. */
  readonly signal: AbortSignal;
}

export async function makeLinksPage(
  deps: PageDeps,
  { campaign, account }: { campaign: CampaignRow; account: AuthenticatedAccount },
  input: PageInput,
  work: PageWork,
): Promise<PageResult> {
  const { campaigns, linkService, logger, pacer } = deps;
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
      if (!isLinkRefusal(err)) throw err;
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
          await campaigns.markFailed(input.accountId, input.campaignId, u.seq, `link_not_created: ${why}`);
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
      while (inFlight.size >= deps.maxInFlight) await Promise.race(inFlight);
      const at = pacer.nextSlot(input.campaignId, input.firstSlotAt + i * input.intervalMs, input.intervalMs);
      const wait = at - Date.now();
      if (wait > 0) await work.sleep(wait); // throws once the page is asked to stop
      if (errors.length > 0 || (await haltedNow())) break;
      const making: Promise<void> = makeOne(recipient)
        .catch((err: unknown) => void errors.push(err))
        .finally(() => inFlight.delete(making));
      inFlight.add(making);
    }
  } finally {
    // Nothing is left running behind the page's back, even when it is asked to stop.
    await Promise.all(inFlight);
    await confirming;
  }
  // The page ends once every link it started is stored or known refused; stopped early
  // (paused, cancelled), the links already started are still recorded.
  while (errors.length === 0 && unconfirmed.size > 0 && !work.signal.aborted) {
    await confirm();
    if (unconfirmed.size > 0) await work.sleep(CONFIRM_EVERY_MS);
  }
  if (errors.length > 0) {
    logger.warn({ campaignId: campaign.id, err: errors[0] }, 'campaign page failed; it will be retried');
    throw errors[0];
  }
  if (work.signal.aborted) throw new CampaignRunError('page_cancelled', 'page cancelled');
  return { created, failed, deferred };
}
