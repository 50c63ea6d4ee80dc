import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, retryDelaySeconds } from '../../src/outbox/backoff';

describe('outbox retries', () => {
  it('wait 5 s, then twice as long each time, at most an hour apart', () => {
    const delays = [1, 2, 3, 4, 10, 11, 12, 30].map((attempt) =>
      retryDelaySeconds(DEFAULT_RETRY_POLICY, attempt, 0),
    );
    expect(delays).toEqual([5, 10, 20, 40, 2560, 3600, 3600, 3600]);
  });

  it('give up once the next attempt would fall more than a day after the row was written', () => {
    expect(retryDelaySeconds(DEFAULT_RETRY_POLICY, 20, 86_400 - 3600)).toBe(3600);
    expect(retryDelaySeconds(DEFAULT_RETRY_POLICY, 20, 86_400 - 3599)).toBeUndefined();
    expect(retryDelaySeconds(DEFAULT_RETRY_POLICY, 1, 86_400)).toBeUndefined();
  });
});
