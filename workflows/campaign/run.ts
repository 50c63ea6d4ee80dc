/**
 * One run of a campaign: its state and the steps it takes. Each step decides from the state
 * (./rules.ts) and waits on one activity, timer or page at a time (./steps.ts); the updates that
 * change the state are answered in ./inbox.ts.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { CampaignActivities } from './activities';
import type {
  CampaignOutcome,
  CampaignRunState,
  CampaignStatus,
  CampaignView,
  CampaignWorkflowInput,
} from './contract';
import {
  CLAIM_AHEAD_MS,
  controlPending,
  firstSlotAt,
  handOverDue,
  initialRunState,
  isFinished,
  MAX_RUNNING_PAGES,
  pagePace,
  viewOf,
} from './rules';
import { RunningPages } from './running-pages';
import { result, type Step } from './steps';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;

/** Single statements: a few seconds at most; an attempt stuck longer is on a dead worker. */
const storeActivities = proxyActivities<CampaignActivities>({ startToCloseTimeout: '1 minute', retry });

/**
 * Pages make and cancel links: about a second of work, heartbeating, so a worker that dies
 * mid-page is noticed within the heartbeat timeout and the page retried elsewhere (finding the
 * links it had already made under their derived ids).
 */
const pageActivities = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry,
});

/** Inside the sandbox Date is Temporal's deterministic workflow clock. */
const now = (): number => Date.now();

/** What a step leaves the run to do: take the next step, or end. */
type Next = 'next' | 'done';

export class CampaignRun {
  readonly state: CampaignRunState;
  readonly pages: RunningPages;
  private readonly ref: { campaignId: string; accountId: string };
  private readonly intervalMs: number;
  private readonly pageSize: number;

  constructor(readonly input: CampaignWorkflowInput) {
    const { campaignId, accountId, settings } = input;
    this.ref = { campaignId, accountId };
    this.state = initialRunState(input.resumeFrom);
    const { intervalMs, pageSize } = pagePace(input.linksPerSecond, settings);
    this.intervalMs = intervalMs;
    this.pageSize = pageSize;
    this.pages = new RunningPages((seqs, firstSlotAt) =>
      pageActivities.createCampaignLinks({ ...this.ref, seqs, firstSlotAt, intervalMs }),
    );
  }

  finished = (): boolean => isFinished(this.state.status);
  view = (): CampaignView => viewOf(this.state);
  /** For waits that a pause or cancel cuts short. */
  private readonly controlAsked = (): boolean => controlPending(this.state);

  /** The whole run: from the first status to the last, then every page and update finished. */
  *lifecycle(): Step<CampaignOutcome> {
    if (this.state.status === 'draft') yield this.setStatus('scheduled');
    for (;;) {
      if ((yield* this.step()) === 'done') break;
    }
    yield this.pages.drain();
    yield condition(allHandlersFinished);
    return { status: this.state.status };
  }

  /**
   * One turn of the run. Pause and cancel come first: their status is written first, the running
   * pages read it and stop making links (within a fifth of a second), and the update answers once
   * they have.
   */
  private *step(): Step<Next> {
    const { state } = this;
    if (this.pages.failure !== undefined) throw this.pages.failure;
    if (state.cancel) return yield* this.cancelling();
    if (state.paused) {
      yield* this.pausing();
      return 'next';
    }
    if (state.status === 'paused') {
      yield this.setStatus(state.resumeTo);
      return 'next';
    }
    if (this.finished()) return 'done';
    if (this.handOverDue()) {
      yield this.pages.drain();
      yield this.handOverIfDue();
    }
    if (this.input.mode === 'single_link') return (yield* result(this.singleLinkStep())) ? 'done' : 'next';
    if (!state.scheduled) {
      yield* this.scheduling();
      return 'next';
    }
    return yield* this.sending();
  }

  async setStatus(status: CampaignStatus): Promise<void> {
    if (this.state.status === status) return;
    await storeActivities.setCampaignStatus({ ...this.ref, status });
    this.state.status = status;
  }

  /** Between pages, when no update is mid-way: the next run starts from `state`. */
  private handOverDue(): boolean {
    return handOverDue(workflowInfo(), this.input.settings) && allHandlersFinished();
  }

  private async handOverIfDue(): Promise<void> {
    if (this.handOverDue())
      await continueAsNew<(input: CampaignWorkflowInput) => Promise<CampaignOutcome>>({
        ...this.input,
        resumeFrom: this.state,
      });
  }

  /** Nothing more is sent, the waiting recipients are cancelled, then (if asked) the links made. */
  private *cancelling(): Step<Next> {
    const { state } = this;
    if (!state.pendingCancelled) {
      yield this.setStatus('cancelled');
      yield this.pages.drain();
      yield storeActivities.cancelCampaignPending(this.ref);
      state.pendingCancelled = true;
    }
    // Read after the waits: a second cancel may have asked for the links meanwhile.
    if (!state.cancel?.cancelLinks || state.linksCancelled) return 'done';
    const done = yield* result(
      pageActivities.cancelCampaignLinks({
        ...this.ref,
        afterSeq: state.cancelCursor,
        limit: this.input.settings.cancelPageSize,
      }),
    );
    state.cancelCursor = done.lastSeq;
    state.linksCancelled = done.done;
    yield this.handOverIfDue();
    return 'next';
  }

  /** Paused: no page runs until a resume (or a cancel); a long pause hands over to a new run. */
  private *pausing(): Step {
    const { state } = this;
    state.nextSlotAt = 0;
    if (state.status !== 'paused') {
      state.resumeTo = state.status === 'running' ? 'running' : 'scheduled';
      yield this.setStatus('paused');
    }
    yield this.pages.drain();
    yield condition(() => !state.paused || state.cancel !== null || this.handOverDue());
    if (state.paused && !state.cancel) yield this.handOverIfDue();
  }

  /** single_link: make the link at its time, then wait for it to expire. True once finished. */
  private async singleLinkStep(): Promise<boolean> {
    const { state, input } = this;
    if (!state.singleLink) {
      const startAt = Date.parse(input.singleLinkAt ?? input.startedAt);
      if (startAt > now()) {
        await condition(this.controlAsked, startAt - now());
        return false;
      }
      await this.setStatus('running');
      try {
        state.singleLink = await storeActivities.createCampaignSingleLink(this.ref);
      } catch (err) {
        log.error('the campaign link could not be made; the campaign is cancelled', {
          campaignId: input.campaignId,
          err,
        });
        await this.setStatus('cancelled');
        return true;
      }
      return false;
    }
    const left = Date.parse(state.singleLink.expiresAt) - now();
    if (left > 0) {
      await condition(() => state.cancel !== null, left);
      return false;
    }
    await this.setStatus('completed');
    return true;
  }

  /** Every recipient's send time, a page of zones per activity; then when the first is due. */
  private *scheduling(): Step {
    const { state, input } = this;
    const page = yield* result(
      storeActivities.scheduleCampaignZones({
        ...this.ref,
        startedAt: input.startedAt,
        afterZone: state.zoneCursor,
        limit: input.settings.zonesPerPage,
      }),
    );
    state.zoneCursor = page.lastZone;
    if (page.done) {
      state.nextDueAt = yield* result(storeActivities.nextCampaignDueAt(this.ref));
      state.scheduled = true;
    }
  }

  /** per_recipient: waits for the next send time or slot, then claims and starts the next page. */
  private *sending(): Step<Next> {
    const { state } = this;
    const dueIn = state.nextDueAt === null ? Number.POSITIVE_INFINITY : Date.parse(state.nextDueAt) - now();
    if (dueIn > 0 && this.pages.size > 0) {
      // Nobody else is due yet: let the running pages finish (some may have been put off).
      yield this.pages.drain();
      state.nextDueAt = yield* result(storeActivities.nextCampaignDueAt(this.ref));
      return 'next';
    }
    if (state.nextDueAt === null) {
      yield this.setStatus('completed');
      return 'done';
    }
    if (dueIn > 0) {
      state.nextSlotAt = 0;
      yield condition(this.controlAsked, dueIn);
      return 'next';
    }
    const claimIn = state.nextSlotAt - CLAIM_AHEAD_MS - now();
    if (claimIn > 0) {
      yield condition(this.controlAsked, claimIn);
      return 'next';
    }
    if (this.pages.size >= MAX_RUNNING_PAGES) {
      yield this.pages.oldest();
      return 'next';
    }
    yield this.setStatus('running');
    const claimed = yield* result(
      storeActivities.claimCampaignPage({ ...this.ref, limit: this.pageSize, exclude: this.pages.seqs() }),
    );
    state.nextDueAt = claimed.nextDueAt;
    if (claimed.seqs.length === 0) {
      if (this.pages.size > 0) yield this.pages.oldest();
      else {
        state.nextDueAt = yield* result(storeActivities.nextCampaignDueAt(this.ref));
        // Due by the timer's clock but not yet by the worker's: look again shortly.
        if (state.nextDueAt !== null) yield condition(this.controlAsked, 250);
      }
      return 'next';
    }
    const first = firstSlotAt(state.nextSlotAt, now());
    state.nextSlotAt = first + claimed.seqs.length * this.intervalMs;
    this.pages.start(claimed.seqs, first);
    return 'next';
  }
}
