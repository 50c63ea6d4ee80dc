/**
 * The campaign workflow's activities: each calls one function of the campaigns service's runner
 * (src/campaigns/runner.ts) and turns its errors into what Temporal should do with them.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { CampaignRunError, type CampaignRunErrorCode } from '../src/campaigns/errors';
import type { PageWork } from '../src/campaigns/pages';
import { type CampaignRunnerDeps, createCampaignRunner } from '../src/campaigns/runner';
import type { CampaignActivities } from '../workflows/campaign/activities';

export type CampaignActivityDeps = CampaignRunnerDeps;

/** Codes no retry can fix: the run is told at once (a page fails the run, a single link cancels it). */
const NON_RETRYABLE: ReadonlySet<CampaignRunErrorCode> = new Set([
  'campaign_not_found',
  'link_invalid',
  'link_refused',
]);

/** A service error as Temporal's failure; anything else is thrown as it is, and retried. */
export function campaignFailure(err: unknown): never {
  if (err instanceof CampaignRunError) {
    if (err.code === 'page_cancelled') throw new CancelledFailure(err.message);
    if (NON_RETRYABLE.has(err.code)) throw ApplicationFailure.nonRetryable(err.message, err.code);
  }
  throw err;
}

const step = <T>(work: () => Promise<T>): Promise<T> => work().catch(campaignFailure);

/** Beats while a long step runs, so a worker that died is noticed within the heartbeat timeout. */
function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 1000);
  return step(work).finally(() => clearInterval(timer));
}

/** A page waits and stops on its activity's clock and cancellation. */
function pageWork(): PageWork {
  const ctx = Context.current();
  return { sleep: (ms) => ctx.sleep(ms), signal: ctx.cancellationSignal };
}

export function createCampaignActivities(deps: CampaignActivityDeps): CampaignActivities {
  const runner = createCampaignRunner(deps);
  return {
    setCampaignStatus: (input) => step(() => runner.setStatus(input)),
    scheduleCampaignZones: (input) => step(() => runner.scheduleZones(input)),
    nextCampaignDueAt: (input) => step(() => runner.nextDueAt(input)),
    claimCampaignPage: (input) => step(() => runner.claimPage(input)),
    createCampaignLinks: (input) => heartbeating(() => runner.makeLinks(input, pageWork())),
    cancelCampaignPending: (input) => step(() => runner.cancelPending(input)),
    cancelCampaignLinks: (input) => heartbeating(() => runner.cancelLinks(input)),
    createCampaignSingleLink: (input) => step(() => runner.createSingleLink(input)),
  };
}
