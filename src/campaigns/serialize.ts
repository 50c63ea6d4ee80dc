import type { CampaignProgress } from './progress';
import type { CampaignRow } from './types';

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

/** The API representation of a campaign (snake_case, times in UTC ISO 8601). */
export function serializeCampaign(row: CampaignRow, progress?: CampaignProgress) {
  return {
    id: row.id,
    object: 'campaign' as const,
    name: row.name,
    mode: row.mode,
    status: row.status,
    link: row.link,
    schedule: row.schedule,
    throttle: row.throttle,
    recipients_count: row.recipients_count,
    single_link_id: row.single_link_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    started_at: isoOrNull(row.started_at),
    completed_at: isoOrNull(row.completed_at),
    cancelled_at: isoOrNull(row.cancelled_at),
    ...(progress ? { progress } : {}),
  };
}
