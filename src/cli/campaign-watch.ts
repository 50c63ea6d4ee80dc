/**
 * Follows a campaign after it was started: a live bar of links created out of recipients (with
 * sent and paid counters) on a terminal, a plain line whenever something moved otherwise. The
 * watch ends when nothing more is worth waiting for at the terminal: the campaign is scheduled
 * for later (it says when it sends), paused, completed or cancelled, or still running with every
 * recipient's link created (payments keep coming in for days; `campaigns show` reports them).
 */
import cliProgress from 'cli-progress';
import {
  allLinksCreated,
  type CampaignJson,
  FINAL_STATUSES,
  formatOutcome,
  formatProgressLine,
  formatWaiting,
} from './campaign-format';

export interface WatchOptions {
  /** One GET of the campaign. */
  read: () => Promise<CampaignJson>;
  out: NodeJS.WriteStream;
  intervalMs: number;
  /** How long a running campaign whose links are all created is watched for it to complete. */
  settleMs?: number;
  /**
   * The earliest send time of the recipients still waiting (UTC ISO), or undefined when it cannot
   * be told; asked only once link creation has stood still for `stallMs`.
   */
  nextSendAt?: () => Promise<string | undefined>;
  stallMs?: number;
  now?: () => number;
}

/** A scheduled campaign whose start is this close is watched into its run rather than left. */
const IMMINENT_MS = 60_000;

function startsLater(c: CampaignJson, now: number): boolean {
  const schedule = c.schedule;
  if (!schedule) return false;
  if ('send_at_local' in schedule) return true;
  return Date.parse(schedule.start_at) - now > IMMINENT_MS;
}

/** The recipients still waiting, once links for everyone due now are made (quiet hours, local times). */
const pendingOf = (c: CampaignJson) =>
  c.progress.recipients_by_status?.pending ?? c.progress.recipients - c.progress.links_created;

/** Why the watch stops now, or undefined to keep watching. */
function stopReason(c: CampaignJson, now: number, doneSince: number | undefined, settleMs: number) {
  if (FINAL_STATUSES.has(c.status) || c.status === 'paused') return c.status;
  if (c.status === 'scheduled' && startsLater(c, now)) return 'scheduled';
  if (c.status === 'running' && doneSince !== undefined && now - doneSince >= settleMs) return 'running';
  return undefined;
}

interface Display {
  update(c: CampaignJson, elapsedSeconds: number): void;
  stop(): void;
}

function barDisplay(out: NodeJS.WriteStream): Display {
  const bar = new cliProgress.SingleBar(
    {
      stream: out,
      format:
        '{bar} {percentage}% | links {value}/{total} | sent {sent} | delivered {delivered} | failed {failed} | paid {paid} | {status}',
      hideCursor: true,
      barsize: 30,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(c) {
      const p = c.progress;
      const payload = {
        sent: p.messages_sent,
        delivered: p.messages_delivered,
        failed: p.messages_failed,
        paid: p.links_paid,
        status: c.status,
      };
      if (!started) {
        bar.start(p.recipients, p.links_created, payload);
        started = true;
      } else {
        bar.setTotal(p.recipients);
        bar.update(p.links_created, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function lineDisplay(out: NodeJS.WriteStream): Display {
  let last = '';
  return {
    update(c, elapsedSeconds) {
      // Only when something moved: a log stays readable through a long run.
      const key = JSON.stringify([c.status, c.progress]);
      if (key === last) return;
      last = key;
      out.write(`${formatProgressLine(c, elapsedSeconds)}\n`);
    },
    stop() {},
  };
}

/** Watches until the campaign needs nobody at the terminal; prints the outcome and returns the campaign. */
export async function watchCampaign(options: WatchOptions): Promise<CampaignJson> {
  const now = options.now ?? Date.now;
  const settleMs = options.settleMs ?? 5000;
  const display = options.out.isTTY ? barDisplay(options.out) : lineDisplay(options.out);
  const stallMs = options.stallMs ?? 15_000;
  const started = now();
  let doneSince: number | undefined;
  // When link creation last moved: a campaign whose remaining recipients wait for their quiet
  // hours to end (or their local send time) is left to run rather than watched for hours.
  let moved = { at: started, key: '' };
  // Ctrl-C leaves the campaign running: it only stops watching it.
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const campaign = await options.read();
      const t = now();
      display.update(campaign, (t - started) / 1000);
      if (campaign.status === 'running' && allLinksCreated(campaign)) doneSince ??= t;
      else doneSince = undefined;
      const key = `${campaign.status} ${campaign.progress.links_created} ${pendingOf(campaign)}`;
      if (key !== moved.key) moved = { at: t, key };
      let later: string | undefined;
      const underway = campaign.status === 'running' || campaign.status === 'scheduled';
      if (underway && pendingOf(campaign) > 0 && t - moved.at >= stallMs) {
        const next = await options.nextSendAt?.();
        if (next !== undefined && Date.parse(next) - now() > IMMINENT_MS) later = next;
        else moved = { at: t, key }; // due soon, or cannot tell: look again after another while
      }
      const reason = stopReason(campaign, t, doneSince, settleMs);
      if (reason || later || interrupted) {
        display.stop();
        options.out.write(
          reason
            ? `${formatOutcome(campaign)}\n`
            : later
              ? `${formatWaiting(campaign, pendingOf(campaign), later)}\n`
              : `stopped watching; campaign ${campaign.id} goes on (${campaign.status}): \`paylinks campaigns show ${campaign.id}\`\n`,
        );
        return campaign;
      }
      await new Promise((wake) => setTimeout(wake, options.intervalMs));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
