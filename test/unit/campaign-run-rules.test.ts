/** The campaign run's pure rules (workflows/campaign/rules.ts), and how its activities report failures. */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { campaignFailure } from '../../activities/campaigns';
import { CampaignRunError } from '../../src/campaigns/errors';
import { DEFAULT_CAMPAIGN_SETTINGS } from '../../workflows/campaign/contract';
import {
  cancelRefusal,
  firstSlotAt,
  handOverDue,
  initialRunState,
  MAX_CATCH_UP_MS,
  pagePace,
  pauseRefusal,
  resumeRefusal,
} from '../../workflows/campaign/rules';

describe('campaign run rules', () => {
  it('pages cover five seconds of the pace, between one link and maxPageSize', () => {
    expect(pagePace(10, DEFAULT_CAMPAIGN_SETTINGS)).toEqual({ intervalMs: 100, pageSize: 50 });
    expect(pagePace(1000, DEFAULT_CAMPAIGN_SETTINGS).pageSize).toBe(DEFAULT_CAMPAIGN_SETTINGS.maxPageSize);
    expect(pagePace(0, DEFAULT_CAMPAIGN_SETTINGS)).toEqual({ intervalMs: 1_000_000, pageSize: 1 });
  });

  it('a page keeps its slots unless the run is too far behind them', () => {
    const now = 1_000_000;
    expect(firstSlotAt(now - MAX_CATCH_UP_MS, now)).toBe(now - MAX_CATCH_UP_MS);
    expect(firstSlotAt(now - MAX_CATCH_UP_MS - 1, now)).toBe(now);
    expect(firstSlotAt(0, now)).toBe(now);
    expect(firstSlotAt(now + 500, now)).toBe(now + 500);
  });

  it('a run continued as new counts on from the last state', () => {
    const first = initialRunState(undefined);
    expect(first).toMatchObject({ status: 'draft', run: 1, cancel: null, scheduled: false });
    expect(initialRunState({ ...first, status: 'running', run: 3 })).toMatchObject({
      status: 'running',
      run: 4,
    });
  });

  it('hands over at the event limit or when Temporal suggests it', () => {
    const settings = { ...DEFAULT_CAMPAIGN_SETTINGS, continueAsNewAfterEvents: 40 };
    expect(handOverDue({ continueAsNewSuggested: false, historyLength: 39 }, settings)).toBe(false);
    expect(handOverDue({ continueAsNewSuggested: false, historyLength: 40 }, settings)).toBe(true);
    expect(handOverDue({ continueAsNewSuggested: true, historyLength: 1 }, settings)).toBe(true);
  });

  it('refuses what the campaign state does not allow', () => {
    const state = initialRunState(undefined);
    expect(pauseRefusal({ ...state, status: 'running' }, 'per_recipient')).toBeUndefined();
    expect(pauseRefusal(state, 'single_link')).toBe('a single-link campaign cannot be paused');
    expect(pauseRefusal({ ...state, status: 'completed' }, 'per_recipient')).toBe(
      'the campaign is completed',
    );
    expect(resumeRefusal({ ...state, status: 'paused', cancel: { cancelLinks: false } })).toBe(
      'the campaign is cancelled',
    );
    expect(cancelRefusal({ ...state, status: 'cancelled' })).toBeUndefined();
    expect(cancelRefusal({ ...state, status: 'completed' })).toBe('the campaign is completed');
  });
});

describe('campaign activity failures', () => {
  const failureOf = (err: unknown) => {
    try {
      campaignFailure(err);
    } catch (thrown) {
      return thrown;
    }
    throw new Error('campaignFailure returned');
  };

  it('no retry for what no retry can fix, by the service error code', () => {
    for (const code of ['campaign_not_found', 'link_invalid', 'link_refused'] as const) {
      const failure = failureOf(new CampaignRunError(code, `because ${code}`));
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ nonRetryable: true, type: code, message: `because ${code}` });
    }
  });

  it('a stopped page is cancelled; anything else is thrown as it is and retried', () => {
    expect(failureOf(new CampaignRunError('page_cancelled', 'page cancelled'))).toBeInstanceOf(
      CancelledFailure,
    );
    const outage = new Error('connection terminated');
    expect(failureOf(outage)).toBe(outage);
  });
});
