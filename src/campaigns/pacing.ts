/**
 * The throttle as a ceiling on one worker: the i-th link of a page is due at its slot, but never
 * sooner than one interval after the campaign's previous link on this worker, and never more
 * than one interval in the past: a late page does not burst to catch up (what is lost to
 * lateness stays lost), so any window of W seconds holds at most rate × W + 2 starts from this
 * worker. Pages of one campaign overlap (one pacing, others confirming; a late one's tail), so
 * the last slot is kept per campaign, not per page. Slots are reserved on the clock, not taken
 * from when the sleep returned, so timer jitter shorter than an interval costs no rate.
 */
export interface Pacer {
  /** When the link due at `slot` may be made (ms since epoch), reserving that instant. */
  nextSlot(campaignId: string, slot: number, intervalMs: number): number;
}

export function createPacer(now: () => number = Date.now): Pacer {
  const lastSlotAt = new Map<string, number>();
  return {
    nextSlot(campaignId, slot, intervalMs) {
      const at = Math.max(slot, (lastSlotAt.get(campaignId) ?? 0) + intervalMs, now() - intervalMs);
      lastSlotAt.set(campaignId, at);
      return at;
    },
  };
}
