/**
 * One campaign's run: sets every recipient's send time, then makes their links page by page at
 * the throttle's pace, each link its own payment-link workflow (which sends the recipient their
 * message). Pause, resume and cancel are updates that resolve once the campaign has stopped (or
 * resumed) and its status is written: the status is written first and running pages read it
 * every STATUS_CHECK_MS (src/campaigns/pages.ts), so they take effect well within a second. The
 * run continues as new between pages, so a campaign of any size keeps a short history.
 *
 * Where things are: the run's state and steps in ./run.ts, the updates in ./inbox.ts, the pages
 * in flight in ./running-pages.ts, the pure rules in ./rules.ts, the activities' types in ./activities.ts.
 */
import type { CampaignOutcome, CampaignWorkflowInput } from './contract';
import { answerInbox } from './inbox';
import { CampaignRun } from './run';
import { follow } from './steps';

export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignOutcome> {
  const run = new CampaignRun(input);
  answerInbox(run);
  return follow(run.lifecycle());
}
