/**
 * At most `perSecond` starts per second in this process, spaced evenly: the channel's
 * EMAIL_PER_SECOND / SMS_PER_SECOND for the closing messages the drainer sends (the reminders'
 * task queues are limited by Temporal). Waiters are served in order.
 */
export function createRateLimiter(perSecond: number) {
  const spacingMs = 1000 / perSecond;
  let nextSlot = 0;
  return {
    /** Resolves when the caller may start. */
    async take(): Promise<void> {
      const now = Date.now();
      const slot = Math.max(now, nextSlot);
      nextSlot = slot + spacingMs;
      if (slot > now) await new Promise((r) => setTimeout(r, slot - now));
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
