import type { CampaignRow } from './campaign-store';

/**
 * The campaign as the API shows it. Kept minimal here (the run's side); the campaigns API extends
 * it with progress and the rest.
 */
export function serializeCampaign(row: CampaignRow) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    object: 'campaign' as const,
    name: row.name,
    status: row.status,
    mode: row.mode,
    link: row.link,
    schedule: row.schedule,
    throttle: row.throttle,
    single_link: row.single_link_id,
    recipients_count: row.recipients_count,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    started_at: iso(row.started_at),
    completed_at: iso(row.completed_at),
    cancelled_at: iso(row.cancelled_at),
  };
}
