import { pipeline } from 'node:stream/promises';
import express, { type Request, type RequestHandler, Router } from 'express';
import { DateTime } from 'luxon';
import { z } from 'zod';
import {
  bodyTooLarge,
  DEFAULT_IMPORT_LIMITS,
  type ImportLimits,
  readCsvRecipients,
  tooManyRows,
} from '../../campaigns/csv-import';
import { campaignProgress } from '../../campaigns/progress';
import { cellsOfJson, ImportRules, RecipientBatch } from '../../campaigns/recipients';
import { listRecipients, RecipientsQuerySchema, resultsCsv } from '../../campaigns/results';
import {
  CAMPAIGN_MODES,
  CAMPAIGN_STATUSES,
  CampaignScheduleError,
  CreateCampaignSchema,
  EDITABLE_STATUSES,
  resolveSchedule,
  storedTemplate,
} from '../../campaigns/schema';
import { serializeCampaign } from '../../campaigns/serialize';
import { type CampaignRow, CampaignStateError, createCampaignStore } from '../../campaigns/store';
import type { Db } from '../../db/knex';
import { ID_PREFIX } from '../../ids';
import type { Logger } from '../../logger';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { withIdempotency } from '../idempotency';
import { PaginationSchema, paginate } from '../pagination';
import { parseBody, parseQuery, pathIds } from '../validation';

export interface CampaignRoutesDeps {
  db: Db;
  publicBaseUrl: string;
  logger: Logger;
  /** Body and row caps of a recipients import; default 20 MB and 100,000 rows. */
  campaignImportLimits?: ImportLimits;
}

export const CampaignListQuerySchema = PaginationSchema.extend({
  status: z.enum(CAMPAIGN_STATUSES).optional(),
  mode: z.enum(CAMPAIGN_MODES).optional(),
}).strict();

export const ImportQuerySchema = z.strictObject({
  all_or_nothing: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: one bad row and nothing is imported (422 with the rejected rows)'),
});

export const ImportJsonSchema = z.strictObject({
  recipients: z.array(z.unknown()),
});

/** At most this many rejected rows are listed; `rejected_count` has them all. */
export const MAX_LISTED_REJECTIONS = 1000;

const singleLinkHasNoRecipients = (c: CampaignRow) =>
  ApiError.conflict(
    `Campaign ${c.id} is a single_link campaign: it has one shared link and no recipients`,
    'campaign_single_link',
  );
const notEditable = (c: CampaignRow) =>
  ApiError.conflict(
    `Recipients can be added only while a campaign is draft or scheduled; ${c.id} is ${c.status}`,
    'campaign_not_editable',
  );

const acceptsRecipients = (c: CampaignRow) =>
  c.mode === 'per_recipient' && EDITABLE_STATUSES.includes(c.status);
const refusal = (c: CampaignRow) =>
  c.mode === 'single_link' ? singleLinkHasNoRecipients(c) : notEditable(c);

function campaignLoader(db: Db) {
  const store = createCampaignStore(db);
  return async (req: Request): Promise<CampaignRow> => {
    const id = String(req.params.id);
    const campaign = await store.find(accountOf(req).id, id);
    if (!campaign) throw ApiError.notFound('campaign', id);
    return campaign;
  };
}

/**
 * `POST /campaigns/:id/recipients`, mounted before the API's 64 kB JSON parser: a CSV is read as
 * a stream under its own cap, a JSON list parsed under the same cap.
 */
export function campaignImportRoutes(deps: CampaignRoutesDeps): Router {
  const { db } = deps;
  const limits = deps.campaignImportLimits ?? DEFAULT_IMPORT_LIMITS;
  const store = createCampaignStore(db);
  const load = campaignLoader(db);
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.campaign, 'campaign');

  const json = express.json({ limit: limits.maxBytes });
  const parseJson: RequestHandler = (req, res, next) => {
    json(req, res, (err?: { type?: string }) =>
      next(err?.type === 'entity.too.large' ? bodyTooLarge(limits.maxBytes) : err),
    );
  };

  /** The campaign is checked before a byte of the body is read. */
  const admit: RequestHandler = async (req, res, next) => {
    const campaign = await load(req);
    if (!acceptsRecipients(campaign)) throw refusal(campaign);
    const length = Number(req.get('content-length'));
    if (Number.isFinite(length) && length > limits.maxBytes) throw bodyTooLarge(limits.maxBytes);
    res.locals.campaign = campaign;
    next();
  };

  router.post('/:id/recipients', admit, parseJson, async (req, res) => {
    const q = parseQuery(ImportQuerySchema, req.query);
    const campaign = res.locals.campaign as CampaignRow;
    const rules = new ImportRules(campaign.link);
    let batch: RecipientBatch;
    if (req.is('text/csv')) {
      const charset = /charset\s*=\s*"?([^";]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8' && charset !== 'utf8')
        throw new ApiError(
          415,
          'invalid_request_error',
          'unsupported_encoding',
          `The CSV must be UTF-8 encoded, not ${charset}; save it as "CSV UTF-8" and import it again`,
        );
      try {
        batch = await readCsvRecipients(req, rules, limits);
      } catch (err) {
        // The rest of a refused upload is not read: the connection closes after the answer.
        if (!req.complete) {
          res.set('Connection', 'close');
          req.resume();
        }
        throw err;
      }
    } else if (req.is('application/json')) {
      const body = parseBody(ImportJsonSchema, req.body);
      if (body.recipients.length > limits.maxRows) throw tooManyRows(limits.maxRows);
      batch = new RecipientBatch(rules);
      for (const item of body.recipients) {
        const cells = cellsOfJson(item);
        if (cells.ok) batch.add(cells.cells);
        else batch.reject(cells.column, cells.reason);
      }
    } else {
      throw new ApiError(
        415,
        'invalid_request_error',
        'unsupported_media_type',
        'Send recipients as Content-Type: text/csv (a header line, then one recipient a line) or application/json ({"recipients": [...]})',
      );
    }

    const rejected = batch.rejected.slice(0, MAX_LISTED_REJECTIONS);
    if (q.all_or_nothing === 'true' && batch.rejected.length > 0) {
      const error = ApiError.unprocessable(
        `${batch.rejected.length} of ${batch.rows} rows are invalid: nothing was imported (all_or_nothing)`,
        'recipients_rejected',
      );
      res.status(422).json({
        ...error.toJSON(),
        accepted: 0,
        rejected,
        rejected_count: batch.rejected.length,
        duplicates: batch.duplicates,
      });
      return;
    }
    let outcome: Awaited<ReturnType<typeof store.addRecipients>>;
    try {
      outcome = await store.addRecipients(
        accountOf(req).id,
        campaign.id,
        batch.recipients,
        acceptsRecipients,
      );
    } catch (err) {
      if (err instanceof CampaignStateError) throw refusal(err.campaign);
      throw err;
    }
    res.json({
      object: 'recipient_import',
      accepted: outcome.added,
      rejected,
      rejected_count: batch.rejected.length,
      duplicates: batch.duplicates + (batch.recipients.length - outcome.added),
      recipients_count: outcome.campaign.recipients_count,
    });
  });

  return router;
}

export function campaignRoutes(deps: CampaignRoutesDeps): Router {
  const { db, publicBaseUrl, logger } = deps;
  const store = createCampaignStore(db);
  const load = campaignLoader(db);
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.campaign, 'campaign');

  router.post(
    '/',
    withIdempotency(
      db,
      async (req, id) => {
        const body = parseBody(CreateCampaignSchema, req.body);
        let schedule: ReturnType<typeof resolveSchedule>;
        try {
          schedule = resolveSchedule(body.schedule, DateTime.utc());
        } catch (err) {
          if (err instanceof CampaignScheduleError) throw ApiError.invalid(err.message, err.param);
          throw err;
        }
        const row = await store.insert({
          id,
          accountId: accountOf(req).id,
          name: body.name,
          mode: body.mode,
          link: storedTemplate(body),
          schedule,
          throttle: body.throttle ?? {},
        });
        return { status: 201, body: serializeCampaign(row, await campaignProgress(db, row)) };
      },
      { reserve: ID_PREFIX.campaign },
    ),
  );

  router.get('/', async (req, res) => {
    const q = parseQuery(CampaignListQuerySchema, req.query);
    const { rows, hasMore } = await paginate<CampaignRow>(db, 'campaigns', accountOf(req).id, q, (query) => {
      if (q.status) query.where('campaigns.status', q.status);
      if (q.mode) query.where('campaigns.mode', q.mode);
    });
    res.json({ object: 'list', data: rows.map((row) => serializeCampaign(row)), has_more: hasMore });
  });

  router.get('/:id', async (req, res) => {
    const campaign = await load(req);
    res.json(serializeCampaign(campaign, await campaignProgress(db, campaign)));
  });

  router.get('/:id/recipients', async (req, res) => {
    const q = parseQuery(RecipientsQuerySchema, req.query);
    const campaign = await load(req);
    res.json(await listRecipients(db, campaign, q, publicBaseUrl));
  });

  router.get('/:id/results.csv', async (req, res) => {
    const campaign = await load(req);
    const csv = await resultsCsv(db, campaign, publicBaseUrl);
    res.set({
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${campaign.id}-results.csv"`,
      'Cache-Control': 'no-store',
    });
    try {
      await pipeline(csv, res);
    } catch (err) {
      // Headers are gone: the client sees a cut download; the reason is for the operator.
      logger.warn({ err, campaignId: campaign.id }, 'results.csv stopped before its end');
    }
  });

  return router;
}
