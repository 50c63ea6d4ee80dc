/** A campaign and its recipients as stored (store.ts reads and writes them). */
import type { CampaignMode, CampaignStatus } from '../../workflows/campaign/contract';
import type { Recipient } from './recipients';
import type { CampaignSchedule, CampaignThrottle, LinkTemplate } from './schema';

export interface CampaignRow {
  id: string;
  account_id: string;
  name: string;
  status: CampaignStatus;
  mode: CampaignMode;
  link: LinkTemplate;
  schedule: CampaignSchedule | null;
  throttle: CampaignThrottle;
  single_link_id: string | null;
  recipients_count: number;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
}

export interface NewCampaign {
  id: string;
  accountId: string;
  name: string;
  mode: CampaignMode;
  link: LinkTemplate;
  schedule: CampaignSchedule | null;
  throttle: CampaignThrottle;
}

export type RecipientStatus = 'pending' | 'created' | 'failed' | 'cancelled';

/** A recipient as stored: what the import validated, plus where the run is with them. */
export interface RecipientRow extends Recipient {
  campaign_id: string;
  account_id: string;
  seq: number;
  send_at: Date | null;
  link_id: string | null;
  status: RecipientStatus;
  error: string | null;
}

/** A zone's send instant, or the instant it was due when it is skipped. */
export interface ZoneSendTime {
  /** '' stands for "no zone of their own": the account's. */
  zone: string;
  at: string;
  skipped: boolean;
}
