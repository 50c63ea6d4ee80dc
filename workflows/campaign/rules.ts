/**
 * The campaign run's rules as pure functions of its state and input: the pace and size of pages,
 * when a page keeps its slots, what an update may do. No Temporal call here, so each reads alone.
 */
import type {
  CampaignMode,
  CampaignRunState,
  CampaignSettings,
  CampaignStatus,
  CampaignView,
} from './contract';

/**
 * A page that starts behind its slot keeps its slots if it is at most this late, and starts the
 * pace afresh otherwise (always after a pause or a wait for send times). The page itself never
 * bursts to catch up (src/campaigns/pacing.ts: the throttle is a ceiling), so this only decides
 * where the next slots are counted from.
 */
export const MAX_CATCH_UP_MS = 3000;

/** Seconds of the throttle one page covers. */
export const PAGE_SECONDS = 5;

/** How long before its first slot a page is claimed, so that it starts on time. */
export const CLAIM_AHEAD_MS = 2000;

/** Pages at once: one pacing, the others finishing their last links (slow to store under load). */
export const MAX_RUNNING_PAGES = 3;

/** A first run starts from a draft; a run continued as new from where the last one stopped. */
export function initialRunState(resumeFrom: CampaignRunState | undefined): CampaignRunState {
  if (resumeFrom) return { ...resumeFrom, run: resumeFrom.run + 1 };
  return {
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
}

/**
 * The pace as an interval between links, and the page size: a few seconds of the throttle per
 * page, because a page's start is late on a busy worker and that latency is paid once per page.
 * Pause and cancel still stop a page within its status check (src/campaigns/pages.ts).
 */
export function pagePace(linksPerSecond: number, settings: CampaignSettings) {
  const rate = Math.max(linksPerSecond, 0.001);
  return {
    intervalMs: 1000 / rate,
    pageSize: Math.max(1, Math.min(settings.maxPageSize, Math.ceil(rate * PAGE_SECONDS))),
  };
}

/** Where a new page's slots start: the pace's next slot, unless the run is too far behind it. */
export const firstSlotAt = (nextSlotAt: number, now: number): number =>
  nextSlotAt < now - MAX_CATCH_UP_MS ? now : nextSlotAt;

export const isFinished = (status: CampaignStatus): boolean =>
  status === 'completed' || status === 'cancelled';

export const viewOf = (state: CampaignRunState): CampaignView => ({
  status: state.status,
  paused: state.paused,
  cancelling: state.cancel !== null,
  run: state.run,
});

/** A pause or cancel asked for: whatever the run waits on, it looks again. */
export const controlPending = (state: CampaignRunState): boolean => state.cancel !== null || state.paused;

/** The run should hand over to a new one (between pages, and only when no update is mid-way). */
export const handOverDue = (
  history: { continueAsNewSuggested: boolean; historyLength: number },
  settings: CampaignSettings,
): boolean => history.continueAsNewSuggested || history.historyLength >= settings.continueAsNewAfterEvents;

const endedOrCancelled = (state: CampaignRunState): string | undefined =>
  isFinished(state.status) || state.cancel
    ? `the campaign is ${state.cancel ? 'cancelled' : state.status}`
    : undefined;

/** Why a pause is refused, or undefined when it may run. */
export const pauseRefusal = (state: CampaignRunState, mode: CampaignMode): string | undefined =>
  mode === 'single_link' ? 'a single-link campaign cannot be paused' : endedOrCancelled(state);

/** Why a resume is refused, or undefined when it may run. */
export const resumeRefusal = (state: CampaignRunState): string | undefined => endedOrCancelled(state);

/** Why a cancel is refused, or undefined when it may run (a cancelled campaign answers again). */
export const cancelRefusal = (state: CampaignRunState): string | undefined =>
  state.status === 'completed' ? 'the campaign is completed' : undefined;
