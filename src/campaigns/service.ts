/**
 * The campaigns API's rules over the store: a campaign is created with its schedule resolved and
 * its template stored as validated, read with its live progress, listed, and its recipients and
 * results read with their links. Running one is engine.ts; importing recipients, import.ts.
 */
import { DateTime } from 'luxon';
import { ApiError } from '../api/errors';
import type { Db } from '../db/knex';
import { campaignProgress } from './progress';
import { listRecipients, type RecipientsQuery, resultsCsv } from './results';
import { CampaignScheduleError, type CreateCampaignBody, resolveSchedule, storedTemplate } from './schema';
import type { CampaignListQuery, CampaignStore } from './store';
import type { CampaignRow } from './types';

export interface CampaignServiceDeps {
  db: Db;
  campaigns: CampaignStore;
  /** Where the links' public pages are: recipients and results show each link's URL. */
  publicBaseUrl: string;
}

export function createCampaignService(deps: CampaignServiceDeps) {
  const { db, campaigns, publicBaseUrl } = deps;

  return {
    /** The account's campaign, or 404. */
    async load(accountId: string, campaignId: string): Promise<CampaignRow> {
      const campaign = await campaigns.find(accountId, campaignId);
      if (!campaign) throw ApiError.notFound('campaign', campaignId);
      return campaign;
    },

    /** A draft under the id the request reserved (an idempotent retry finds the one it made). */
    async create(accountId: string, id: string, body: CreateCampaignBody): Promise<CampaignRow> {
      let schedule: ReturnType<typeof resolveSchedule>;
      try {
        schedule = resolveSchedule(body.schedule, DateTime.utc());
      } catch (err) {
        if (err instanceof CampaignScheduleError) throw ApiError.invalid(err.message, err.param);
        throw err;
      }
      return campaigns.insert({
        id,
        accountId,
        name: body.name,
        mode: body.mode,
        link: storedTemplate(body),
        schedule,
        throttle: body.throttle ?? {},
      });
    },

    list: (accountId: string, q: CampaignListQuery) => campaigns.list(accountId, q),

    progress: (campaign: CampaignRow) => campaignProgress(db, campaign),

    recipients: (campaign: CampaignRow, q: RecipientsQuery) => listRecipients(db, campaign, q, publicBaseUrl),

    results: (campaign: CampaignRow) => resultsCsv(db, campaign, publicBaseUrl),
  };
}

export type CampaignService = ReturnType<typeof createCampaignService>;
