/**
 * The contract of the campaign workflow: what the API, the worker and the workflow agree on (its
 * id, type, statuses, input, the state one run hands to the next, and its updates and query).
 * Imports only Temporal's sandbox-safe packages, nothing from Node or src/, like the payment
 * link's contract. The activities it calls are typed in ./activities.ts.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/**
 * The workflow type, as the worker registers it (workflows/index.ts). Campaign runs share the
 * payment links' task queue (DEFAULT_TASK_QUEUE in ../payment-link/contract, TEMPORAL_TASK_QUEUE).
 */
export const CAMPAIGN_WORKFLOW_TYPE = 'campaignWorkflow';

/** One workflow per campaign: its id is the campaign id. */
export const campaignWorkflowId = (campaignId: string): string => campaignId;

export const CAMPAIGN_MODES = ['per_recipient', 'single_link'] as const;
export type CampaignMode = (typeof CAMPAIGN_MODES)[number];

export const CAMPAIGN_STATUSES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

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
  mode: CampaignMode;
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
  status: CampaignStatus;
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
  status: CampaignStatus;
  paused: boolean;
  cancelling: boolean;
  run: number;
}

export interface CancelCampaignRequest {
  cancelLinks: boolean;
}

/** What the run answers when it ends. */
export interface CampaignOutcome {
  status: CampaignStatus;
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
