/**
 * Importing recipients into a campaign: which campaigns take them, reading a CSV stream or a JSON
 * list into a checked batch (recipients.ts, csv-import.ts), and adding the batch, all or nothing
 * when asked. The HTTP route (http.ts) only picks the reader by content type and answers.
 */
import type { Readable } from 'node:stream';
import { ApiError } from '../api/errors';
import {
  bodyTooLarge,
  DEFAULT_IMPORT_LIMITS,
  type ImportLimits,
  readCsvRecipients,
  tooManyRows,
} from './csv-import';
import { CampaignStateError } from './errors';
import { cellsOfJson, ImportRules, RecipientBatch, type RowRejection } from './recipients';
import { EDITABLE_STATUSES } from './schema';
import type { CampaignStore } from './store';
import type { CampaignRow } from './types';

/** At most this many rejected rows are listed; `rejectedCount` has them all. */
export const MAX_LISTED_REJECTIONS = 1000;

/** What an import did; nothing is added when `imported` is false (all or nothing, a bad row). */
export type ImportOutcome =
  | {
      imported: false;
      rows: number;
      rejected: RowRejection[];
      rejectedCount: number;
      duplicates: number;
    }
  | {
      imported: true;
      accepted: number;
      rejected: RowRejection[];
      rejectedCount: number;
      /** In the file, and already in the campaign. */
      duplicates: number;
      recipientsCount: number;
    };

const acceptsRecipients = (c: CampaignRow) =>
  c.mode === 'per_recipient' && EDITABLE_STATUSES.includes(c.status);

/** Why a campaign takes no recipients, as the API answers it. */
function refusal(c: CampaignRow): ApiError {
  if (c.mode === 'single_link')
    return ApiError.conflict(
      `Campaign ${c.id} is a single_link campaign: it has one shared link and no recipients`,
      'campaign_single_link',
    );
  return ApiError.conflict(
    `Recipients can be added only while a campaign is draft or scheduled; ${c.id} is ${c.status}`,
    'campaign_not_editable',
  );
}

export function createRecipientImport(deps: { campaigns: CampaignStore; limits?: ImportLimits }) {
  const { campaigns } = deps;
  const limits = deps.limits ?? DEFAULT_IMPORT_LIMITS;

  return {
    limits,

    /**
     * Checked before a byte of the body is read: the campaign takes recipients, and the body's
     * announced length (when there is one) is within the cap.
     */
    admit(campaign: CampaignRow, contentLength: number): void {
      if (!acceptsRecipients(campaign)) throw refusal(campaign);
      if (Number.isFinite(contentLength) && contentLength > limits.maxBytes)
        throw bodyTooLarge(limits.maxBytes);
    },

    /** A CSV body, read as it arrives (under the byte and row caps). */
    readCsv(campaign: CampaignRow, body: Readable): Promise<RecipientBatch> {
      return readCsvRecipients(body, new ImportRules(campaign.link), limits);
    },

    /** A JSON list of recipient objects. */
    readJson(campaign: CampaignRow, items: unknown[]): RecipientBatch {
      if (items.length > limits.maxRows) throw tooManyRows(limits.maxRows);
      const batch = new RecipientBatch(new ImportRules(campaign.link));
      for (const item of items) {
        const cells = cellsOfJson(item);
        if (cells.ok) batch.add(cells.cells);
        else batch.reject(cells.column, cells.reason);
      }
      return batch;
    },

    /** Adds the batch's recipients; with `allOrNothing`, none when any row was rejected. */
    async add(campaign: CampaignRow, batch: RecipientBatch, allOrNothing: boolean): Promise<ImportOutcome> {
      const rejected = batch.rejected.slice(0, MAX_LISTED_REJECTIONS);
      const rejectedCount = batch.rejected.length;
      if (allOrNothing && rejectedCount > 0)
        return { imported: false, rows: batch.rows, rejected, rejectedCount, duplicates: batch.duplicates };
      try {
        const outcome = await campaigns.addRecipients(
          campaign.account_id,
          campaign.id,
          batch.recipients,
          acceptsRecipients,
        );
        return {
          imported: true,
          accepted: outcome.added,
          rejected,
          rejectedCount,
          duplicates: batch.duplicates + (batch.recipients.length - outcome.added),
          recipientsCount: outcome.campaign.recipients_count,
        };
      } catch (err) {
        // The campaign started (or changed) while the file was read: checked again under its lock.
        if (err instanceof CampaignStateError) throw refusal(err.campaign);
        throw err;
      }
    },
  };
}

export type RecipientImport = ReturnType<typeof createRecipientImport>;
