/**
 * One campaign's run: sets every recipient's send time, then makes their links page by page at
 * the throttle's pace, each link its own payment-link workflow (which sends the recipient their
 * message). Pause, resume and cancel are updates that resolve once the campaign has stopped (or
 * resumed) and its status is written; a page is one second of the throttle, so they take effect
 * within about a second. The run continues as new between pages, so a campaign of any size keeps
 * a short history.
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
 * A page ends when its slowest link is stored, so the next starts a little behind its slot and
 * makes up for it (the rate holds over the run). Further behind than this, the pace starts afresh
 * rather than bursting. After a pause or a wait for send times it always starts afresh.
 */
const MAX_CATCH_UP_MS = 3000;

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
  // One second of the throttle per page.
  const pageSize = Math.max(1, Math.min(settings.maxPageSize, Math.ceil(rate)));

  const finished = () => state.status === 'completed' || state.status === 'cancelled';
  const view = (): CampaignView => ({
    status: state.status,
    paused: state.paused,
    cancelling: state.cancel !== null,
    run: state.run,
  });

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
        () => state.status === 'paused' || !state.paused || state.cancel !== null || finished(),
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
      await condition(() => state.status === 'cancelled');
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
    if (state.cancel) {
      if (state.status !== 'cancelled') {
        await store.cancelCampaignPending(ref);
        await setStatus('cancelled');
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
      await condition(() => !state.paused || state.cancel !== null || handOverDue());
      if (state.paused && !state.cancel) await handOverIfDue();
      continue;
    }
    if (state.status === 'paused') {
      await setStatus(state.resumeTo);
      continue;
    }
    if (finished()) break;
    await handOverIfDue();

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

    if (state.nextDueAt === null) {
      await setStatus('completed');
      break;
    }
    const dueIn = Date.parse(state.nextDueAt) - now();
    if (dueIn > 0) {
      state.nextSlotAt = 0;
      await condition(controlPending, dueIn);
      continue;
    }
    const slotIn = state.nextSlotAt - now();
    if (slotIn > 0) {
      await condition(controlPending, slotIn);
      continue;
    }
    await setStatus('running');
    const firstSlotAt = state.nextSlotAt < now() - MAX_CATCH_UP_MS ? now() : state.nextSlotAt;
    const page = await pages.createCampaignLinks({ ...ref, limit: pageSize, firstSlotAt, intervalMs });
    state.nextSlotAt = firstSlotAt + page.processed * intervalMs;
    state.nextDueAt = page.nextDueAt;
    if (page.processed === 0 && page.nextDueAt !== null && Date.parse(page.nextDueAt) <= now()) {
      // Due by the timer's clock but not yet by the worker's: look again shortly.
      await condition(controlPending, 250);
    }
  }

  await condition(allHandlersFinished);
  return { status: state.status };
}
