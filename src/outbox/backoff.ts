/**
 * When an outbox row is tried again: the schedule link webhooks had as Temporal retries (5 s,
 * doubling, at most an hour apart), for at most a day from the row's creation.
 */
export interface RetryPolicy {
  initialSeconds: number;
  coefficient: number;
  maximumSeconds: number;
  /** From the row's creation: past it, the row is given up (and says so). */
  giveUpAfterSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialSeconds: 5,
  coefficient: 2,
  maximumSeconds: 3600,
  giveUpAfterSeconds: 86_400,
};

/** Seconds before the next attempt after `attempt` failed, or undefined when it is time to give up. */
export function retryDelaySeconds(
  policy: RetryPolicy,
  attempt: number,
  ageSeconds: number,
): number | undefined {
  const delay = Math.min(
    policy.initialSeconds * policy.coefficient ** Math.max(0, attempt - 1),
    policy.maximumSeconds,
  );
  return ageSeconds + delay > policy.giveUpAfterSeconds ? undefined : delay;
}
