/**
 * What the campaign workflow asks of its activities, and what they answer: the whole I/O
 * vocabulary of a run. The worker implements it (activities/campaigns.ts, over the campaigns
 * service); the workflow imports only these types. Nothing from Node or src/.
 */
import type { CampaignStatus } from './contract';

export interface CampaignRef {
  campaignId: string;
  accountId: string;
}

export interface StatusChange extends CampaignRef {
  status: CampaignStatus;
}

export interface ScheduleZonesInput extends CampaignRef {
  /** When the campaign was started (UTC ISO). */
  startedAt: string;
  /** The last zone already done; null: from the first. */
  afterZone: string | null;
  limit: number;
}

export interface ZonesScheduled {
  lastZone: string | null;
  done: boolean;
}

export interface ClaimInput extends CampaignRef {
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

export interface PageInput extends CampaignRef {
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

export interface CancelLinksInput extends CampaignRef {
  /** The last recipient whose link is already cancelled (0: from the first). */
  afterSeq: number;
  limit: number;
}

export interface CancelLinksResult {
  lastSeq: number;
  done: boolean;
}

/** A single-link campaign's one link. */
export interface SingleLink {
  id: string;
  /** UTC ISO. */
  expiresAt: string;
}

/** Every activity a campaign run calls; each is safe to retry. */
export interface CampaignActivities {
  /** Writes the campaign's status (and its started/completed/cancelled time once). */
  setCampaignStatus(input: StatusChange): Promise<void>;
  /** Sets the send time of the pending recipients of up to `limit` zones. */
  scheduleCampaignZones(input: ScheduleZonesInput): Promise<ZonesScheduled>;
  /** The soonest pending send time; null when nobody is left. */
  nextCampaignDueAt(input: CampaignRef): Promise<string | null>;
  /** The next page: recipients due now that no running page holds, and when the next is due. */
  claimCampaignPage(input: ClaimInput): Promise<Claimed>;
  /** Makes the links of a claimed page at the throttle's pace (heartbeats). */
  createCampaignLinks(input: PageInput): Promise<PageResult>;
  /** A cancelled campaign: everyone still waiting is cancelled; how many. */
  cancelCampaignPending(input: CampaignRef): Promise<number>;
  /** Cancels the next page of links the campaign made (heartbeats). */
  cancelCampaignLinks(input: CancelLinksInput): Promise<CancelLinksResult>;
  /** A single-link campaign's one link, made once. */
  createCampaignSingleLink(input: CampaignRef): Promise<SingleLink>;
}
