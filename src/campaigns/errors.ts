/**
 * The campaigns service's own errors. They say what went wrong in the campaign's words (a code);
 * the API shell and the worker's activities decide what that means for an HTTP answer or a retry.
 */
import type { CampaignRow } from './types';

/** The campaign no longer takes what was asked (recipients once it runs…), checked under its lock. */
export class CampaignStateError extends Error {
  constructor(readonly campaign: CampaignRow) {
    super(`campaign ${campaign.id} is ${campaign.status}`);
    this.name = 'CampaignStateError';
  }
}

export const CAMPAIGN_RUN_ERROR_CODES = [
  /** The campaign or its account is gone: nothing of the run can be done. */
  'campaign_not_found',
  /** A single-link campaign's template makes no valid link. */
  'link_invalid',
  /** The link service refused a single-link campaign's link. */
  'link_refused',
  /** The page was asked to stop (its activity was cancelled) before its links were recorded. */
  'page_cancelled',
] as const;
export type CampaignRunErrorCode = (typeof CAMPAIGN_RUN_ERROR_CODES)[number];

/** Something a step of a campaign's run cannot do; anything else it throws is worth retrying. */
export class CampaignRunError extends Error {
  constructor(
    readonly code: CampaignRunErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CampaignRunError';
  }
}
