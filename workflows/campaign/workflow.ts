/**
 * One campaign's run: sets every recipient's send time, then makes their links page by page at
 * the throttle's pace, each link its own payment-link workflow (which sends the recipient their
 * message). Pause, resume and cancel are updates that resolve once the campaign has stopped (or
 * resumed) and its status is written: the status is written first and running pages read it
 * every STATUS_CHECK_MS (activities/campaigns.ts), so they take effect well within a second. The
 * run continues as new between pages, so a campaign of any size keeps a short history.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CampaignActivities } from '../../activities/campaigns';
import {
  CampaignFailureTypes,
  type CampaignRunState,
  type CampaignRunStatus,
  type CampaignView,
  type CampaignWorkflowInput,
  campaignStartedUpdate,
  campaignStateQuery,
  cancelCampaignUpdate,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
} from './contract';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;

/** Single statements: a few seconds at most; an attempt stuck longer is on a dead worker. */
const store = proxyActivities<CampaignActivities>({ startToCloseTimeout: '1 minute', retry });

/**
 * Pages make and cancel links: about a second of work, heartbeating, so a worker that dies
 * mid-page is noticed within the heartbeat timeout and the page retried elsewhere (finding the
 * links it had already made under their derived ids).
 */
const pages = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry,
});

/** Inside the sandbox Date is Temporal's deterministic workflow clock. */
const now = (): number => Date.now();

/**
 * A page that starts behind its slot keeps its slots if it is at most this late, and starts the
 * pace afresh otherwise (always after a pause or a wait for send times). The page itself never
 * bursts to catch up (activities/campaigns.ts `nextSlot`: the throttle is a ceiling), so this only
 * decides where the next slots are counted from.
 */
const MAX_CATCH_UP_MS = 3000;

/** Seconds of the throttle one page covers. */
const PAGE_SECONDS = 5;

/** How long before its first slot a page is claimed, so that it starts on time. */
const CLAIM_AHEAD_MS = 2000;

/** Pages at once: one pacing, the others finishing their last links (slow to store under load). */
const MAX_RUNNING_PAGES = 3;

const stateFailure = (message: string) =>
  ApplicationFailure.create({ type: CampaignFailureTypes.CampaignState, message, nonRetryable: true });

export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<{ status: CampaignRunStatus }> {
  const { campaignId, accountId, settings } = input;
  const ref = { campaignId, accountId };
  const state: CampaignRunState = input.resumeFrom
    ? { ...input.resumeFrom, run: input.resumeFrom.run + 1 }
    : {
        status: 'draft',
        zoneCursor: null,
        scheduled: false,
        nextDueAt: null,
        nextSlotAt: 0,
        paused: false,
        resumeTo: 'scheduled',
        cancel: null,
        cancelCursor: 0,
        linksCancelled: false,
        singleLink: null,
        run: 1,
      };
  const rate = Math.max(input.linksPerSecond, 0.001);
  const intervalMs = 1000 / rate;
  // A few seconds of the throttle per page: a page's start is late on a busy worker, and that
  // latency is paid once per page. Pause and cancel still stop a page within STATUS_CHECK_MS.
  const pageSize = Math.max(1, Math.min(settings.maxPageSize, Math.ceil(rate * PAGE_SECONDS)));

  const finished = () => state.status === 'completed' || state.status === 'cancelled';
  const view = (): CampaignView => ({
    status: state.status,
    paused: state.paused,
    cancelling: state.cancel !== null,
    run: state.run,
  });

  // ---- pages in flight ----
  // The next page is claimed before its first slot and starts while the previous ones' last
  // links are still being stored: the pace has no gap between pages.
  const running = new Map<number, { seqs: number[]; done: Promise<unknown> }>();
  let pageCount = 0;
  let pageFailure: unknown;
  const runningSeqs = () => [...running.values()].flatMap((p) => p.seqs);
  const oldestPage = () => [...running.values()][0]?.done;
  async function drain(): Promise<void> {
    while (running.size > 0) await oldestPage();
  }
  function startPage(seqs: number[], firstSlotAt: number): void {
    const id = ++pageCount;
    const done = pages
      .createCampaignLinks({ ...ref, seqs, firstSlotAt, intervalMs })
      .finally(() => running.delete(id));
    // Pages retry until they succeed; one that fails for good (its campaign is gone) fails the run.
    done.catch((err: unknown) => {
      pageFailure ??= err;
    });
    running.set(id, { seqs, done });
  }

  // ---- control ----
  setHandler(campaignStateQuery, view);
  setHandler(campaignStartedUpdate, async () => {
    await condition(() => state.status !== 'draft');
    return view();
  });
  setHandler(
    pauseCampaignUpdate,
    async () => {
      state.paused = true;
      await condition(
        () =>
          (state.status === 'paused' && running.size === 0) ||
          !state.paused ||
          state.cancel !== null ||
          finished(),
      );
      return view();
    },
    {
      validator: () => {
        if (input.mode === 'single_link') throw stateFailure('a single-link campaign cannot be paused');
        if (finished() || state.cancel)
          throw stateFailure(`the campaign is ${state.cancel ? 'cancelled' : state.status}`);
      },
    },
  );
  setHandler(
    resumeCampaignUpdate,
    async () => {
      state.paused = false;
      await condition(() => state.status !== 'paused' || state.cancel !== null);
      return view();
    },
    {
      validator: () => {
        if (finished() || state.cancel)
          throw stateFailure(`the campaign is ${state.cancel ? 'cancelled' : state.status}`);
      },
    },
  );
  setHandler(
    cancelCampaignUpdate,
    async (request) => {
      state.cancel = { cancelLinks: request.cancelLinks || (state.cancel?.cancelLinks ?? false) };
      await condition(
        () => state.status === 'cancelled' && running.size === 0 && state.pendingCancelled === true,
      );
      return view();
    },
    {
      validator: (_request) => {
        if (state.status === 'completed') throw stateFailure('the campaign is completed');
      },
    },
  );

  const controlPending = () => state.cancel !== null || state.paused;

  async function setStatus(status: CampaignRunStatus): Promise<void> {
    if (state.status === status) return;
    await store.setCampaignStatus({ ...ref, status });
    state.status = status;
  }

  // Between pages, when no update is mid-way: the next run starts from `state`.
  const handOverDue = () =>
    (workflowInfo().continueAsNewSuggested ||
      workflowInfo().historyLength >= settings.continueAsNewAfterEvents) &&
    allHandlersFinished();
  async function handOverIfDue(): Promise<void> {
    if (handOverDue()) await continueAsNew<typeof campaignWorkflow>({ ...input, resumeFrom: state });
  }

  /** single_link: make the link at its time, then wait for it to expire. True once finished. */
  async function singleLinkStep(): Promise<boolean> {
    if (!state.singleLink) {
      const startAt = Date.parse(input.singleLinkAt ?? input.startedAt);
      if (startAt > now()) {
        await condition(controlPending, startAt - now());
        return false;
      }
      await setStatus('running');
      try {
        state.singleLink = await store.createCampaignSingleLink(ref);
      } catch (err) {
        log.error('the campaign link could not be made; the campaign is cancelled', { campaignId, err });
        await setStatus('cancelled');
        return true;
      }
      return false;
    }
    const left = Date.parse(state.singleLink.expiresAt) - now();
    if (left > 0) {
      await condition(() => state.cancel !== null, left);
      return false;
    }
    await setStatus('completed');
    return true;
  }

  // ---- the run ----
  if (state.status === 'draft') await setStatus('scheduled');

  for (;;) {
    if (pageFailure !== undefined) throw pageFailure;
    // Pause and cancel: the status is written first, the running pages read it and stop making
    // links (within a fifth of a second), and the update answers once they have.
    if (state.cancel) {
      if (!state.pendingCancelled) {
        await setStatus('cancelled');
        await drain();
        await store.cancelCampaignPending(ref);
        state.pendingCancelled = true;
      }
      if (state.cancel.cancelLinks && !state.linksCancelled) {
        const done = await pages.cancelCampaignLinks({
          ...ref,
          afterSeq: state.cancelCursor,
          limit: settings.cancelPageSize,
        });
        state.cancelCursor = done.lastSeq;
        state.linksCancelled = done.done;
        await handOverIfDue();
        continue;
      }
      break;
    }
    if (state.paused) {
      state.nextSlotAt = 0;
      if (state.status !== 'paused') {
        state.resumeTo = state.status === 'running' ? 'running' : 'scheduled';
        await setStatus('paused');
      }
      await drain();
      await condition(() => !state.paused || state.cancel !== null || handOverDue());
      if (state.paused && !state.cancel) await handOverIfDue();
      continue;
    }
    if (state.status === 'paused') {
      await setStatus(state.resumeTo);
      continue;
    }
    if (finished()) break;
    if (handOverDue()) {
      await drain();
      await handOverIfDue();
    }

    if (input.mode === 'single_link') {
      if (await singleLinkStep()) break;
      continue;
    }

    if (!state.scheduled) {
      const page = await store.scheduleCampaignZones({
        ...ref,
        startedAt: input.startedAt,
        afterZone: state.zoneCursor,
        limit: settings.zonesPerPage,
      });
      state.zoneCursor = page.lastZone;
      if (page.done) {
        state.nextDueAt = await store.nextCampaignDueAt(ref);
        state.scheduled = true;
      }
      continue;
    }

    const dueIn = state.nextDueAt === null ? Number.POSITIVE_INFINITY : Date.parse(state.nextDueAt) - now();
    if (dueIn > 0 && running.size > 0) {
      // Nobody else is due yet: let the running pages finish (some may have been put off).
      await drain();
      state.nextDueAt = await store.nextCampaignDueAt(ref);
      continue;
    }
    if (state.nextDueAt === null) {
      await setStatus('completed');
      break;
    }
    if (dueIn > 0) {
      state.nextSlotAt = 0;
      await condition(controlPending, dueIn);
      continue;
    }
    const claimIn = state.nextSlotAt - CLAIM_AHEAD_MS - now();
    if (claimIn > 0) {
      await condition(controlPending, claimIn);
      continue;
    }
    if (running.size >= MAX_RUNNING_PAGES) {
      await oldestPage();
      continue;
    }
    await setStatus('running');
    const claimed = await store.claimCampaignPage({ ...ref, limit: pageSize, exclude: runningSeqs() });
    state.nextDueAt = claimed.nextDueAt;
    if (claimed.seqs.length === 0) {
      if (running.size > 0) await oldestPage();
      else {
        state.nextDueAt = await store.nextCampaignDueAt(ref);
        // Due by the timer's clock but not yet by the worker's: look again shortly.
        if (state.nextDueAt !== null) await condition(controlPending, 250);
      }
      continue;
    }
    const firstSlotAt = state.nextSlotAt < now() - MAX_CATCH_UP_MS ? now() : state.nextSlotAt;
    state.nextSlotAt = firstSlotAt + claimed.seqs.length * intervalMs;
    startPage(claimed.seqs, firstSlotAt);
  }

  await drain();
  await condition(allHandlersFinished);
  return { status: state.status };
}
