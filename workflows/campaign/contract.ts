/**
 * The contract of the campaign workflow: what the API, the worker and the workflow agree on.
 * Imports only Temporal's sandbox-safe packages, like the payment link's contract.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** One workflow per campaign: its id is the campaign id. */
export const campaignWorkflowId = (campaignId: string): string => campaignId;

export type CampaignRunStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';

/** Knobs the API passes at start; tests shrink them to see pages and continue-as-new. */
export interface CampaignSettings {
  /** Most recipients one page (one activity) creates links for. */
  maxPageSize: number;
  /** Zones whose send times one activity sets. */
  zonesPerPage: number;
  /** Links cancelled by one activity when a campaign is cancelled with its links. */
  cancelPageSize: number;
  /** Links per second when the campaign sets no throttle. */
  defaultLinksPerSecond: number;
  /** Continue-as-new once the run's history reaches this many events. */
  continueAsNewAfterEvents: number;
}

export const DEFAULT_CAMPAIGN_SETTINGS: CampaignSettings = {
  maxPageSize: 100,
  zonesPerPage: 200,
  cancelPageSize: 50,
  defaultLinksPerSecond: 10,
  continueAsNewAfterEvents: 2000,
};

export interface CampaignWorkflowInput {
  campaignId: string;
  accountId: string;
  mode: 'per_recipient' | 'single_link';
  /** When the campaign was started (UTC ISO): local send times already past are judged against it. */
  startedAt: string;
  /** single_link: when its link is made (the schedule read in the account's zone). */
  singleLinkAt?: string;
  /** The pace of link creation, per second (the throttle, see src/campaigns/throttle.ts). */
  linksPerSecond: number;
  settings: CampaignSettings;
  /** Present when continuing as new. */
  resumeFrom?: CampaignRunState;
}

/** Everything a run hands to the next; new fields optional. */
export interface CampaignRunState {
  status: CampaignRunStatus;
  /** Send times are set zone by zone ('' is the account's): the last zone done (null: none yet), and whether all are. */
  zoneCursor: string | null;
  scheduled: boolean;
  /** The soonest pending send time, null when nobody is left. */
  nextDueAt: string | null;
  /** The earliest instant the next link may be created (ms since epoch): the throttle's clock. */
  nextSlotAt: number;
  paused: boolean;
  /** What the campaign was when paused, to go back to on resume. */
  resumeTo: 'scheduled' | 'running';
  cancel: { cancelLinks: boolean } | null;
  /** Cancelled: the recipients still waiting are marked cancelled. */
  pendingCancelled?: boolean;
  /** Links cancelled so far (by recipient seq), and whether all are. */
  cancelCursor: number;
  linksCancelled: boolean;
  /** single_link: the link and when it expires. */
  singleLink: { id: string; expiresAt: string } | null;
  /** Runs so far (1 for the first), for operators and tests. */
  run: number;
}

export interface CampaignView {
  status: CampaignRunStatus;
  paused: boolean;
  cancelling: boolean;
  run: number;
}

export interface CancelCampaignRequest {
  cancelLinks: boolean;
}

/** Resolves once the workflow has written the campaign's first status. */
export const campaignStartedUpdate = defineUpdate<CampaignView>('campaignStarted');
/** Each resolves once the workflow has stopped (or resumed) sending and written the status. */
export const pauseCampaignUpdate = defineUpdate<CampaignView>('pauseCampaign');
export const resumeCampaignUpdate = defineUpdate<CampaignView>('resumeCampaign');
export const cancelCampaignUpdate = defineUpdate<CampaignView, [CancelCampaignRequest]>('cancelCampaign');
export const campaignStateQuery = defineQuery<CampaignView>('campaignState');

export const CampaignFailureTypes = {
  /** The campaign's state does not allow the request (pause a finished campaign…). */
  CampaignState: 'CampaignState',
} as const;

/** What the activities answer. */
export interface ZonesScheduled {
  lastZone: string | null;
  done: boolean;
}

export interface ClaimInput {
  campaignId: string;
  accountId: string;
  limit: number;
  /** Recipients of pages still running: not claimed twice. */
  exclude: number[];
}

export interface Claimed {
  /** The recipients due now, soonest first. */
  seqs: number[];
  /** When the next one after them is due; null when nobody else is pending. */
  nextDueAt: string | null;
}

export interface PageInput {
  campaignId: string;
  accountId: string;
  seqs: number[];
  /** The first link's slot (ms since epoch); each next one `intervalMs` later. */
  firstSlotAt: number;
  intervalMs: number;
}

export interface PageResult {
  created: number;
  failed: number;
  /** Put off to the end of their quiet hours (still pending). */
  deferred: number;
}

export interface CancelLinksResult {
  lastSeq: number;
  done: boolean;
}
