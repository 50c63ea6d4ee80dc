/**
 * The campaigns API: create, list, read, import recipients, list recipients, results.csv, and
 * start / pause / resume / cancel. Each route parses the request, calls the service (service.ts,
 * import.ts, engine.ts) and serialises the answer; the rules live there.
 */
import { pipeline } from 'node:stream/promises';
import express, { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { CAMPAIGN_MODES, CAMPAIGN_STATUSES } from '../../workflows/campaign/contract';
import { accountOf } from '../api/auth';
import { ApiError } from '../api/errors';
import { withIdempotency } from '../api/idempotency';
import { PaginationSchema } from '../api/pagination';
import { parseBody, parseQuery, pathIds } from '../api/validation';
import type { Db } from '../db/knex';
import { ID_PREFIX } from '../ids';
import type { Logger } from '../logger';
import { bodyTooLarge, type ImportLimits } from './csv-import';
import type { CampaignEngine } from './engine';
import { createRecipientImport, type ImportOutcome } from './import';
import type { RecipientBatch } from './recipients';
import { RecipientsQuerySchema } from './results';
import { CreateCampaignSchema } from './schema';
import { serializeCampaign } from './serialize';
import { createCampaignService } from './service';
import type { CampaignStore } from './store';
import type { CampaignRow } from './types';

export interface CampaignHttpDeps {
  db: Db;
  campaigns: CampaignStore;
  /** Starts, pauses, resumes and cancels campaigns (their workflows). */
  campaignEngine: CampaignEngine;
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

/** start, pause and resume take no options (an empty body, or none). */
export const CampaignRunSchema = z.strictObject({});
export const CancelCampaignSchema = z.strictObject({
  /** Also cancel the links already sent (through each link's workflow). */
  cancel_links: z.boolean().optional(),
});

/** The body is optional: none is the same as `{}`. */
const bodyOf = (body: unknown) => (body === undefined || body === null ? {} : body);

const loader = (deps: CampaignHttpDeps) => {
  const service = createCampaignService(deps);
  return (req: Request): Promise<CampaignRow> => service.load(accountOf(req).id, String(req.params.id));
};

const unsupportedEncoding = (charset: string) =>
  new ApiError(
    415,
    'invalid_request_error',
    'unsupported_encoding',
    `The CSV must be UTF-8 encoded, not ${charset}; save it as "CSV UTF-8" and import it again`,
  );

const unsupportedMediaType = () =>
  new ApiError(
    415,
    'invalid_request_error',
    'unsupported_media_type',
    'Send recipients as Content-Type: text/csv (a header line, then one recipient a line) or application/json ({"recipients": [...]})',
  );

function importAnswer(outcome: ImportOutcome): { status: number; body: unknown } {
  if (!outcome.imported) {
    const error = ApiError.unprocessable(
      `${outcome.rejectedCount} of ${outcome.rows} rows are invalid: nothing was imported (all_or_nothing)`,
      'recipients_rejected',
    );
    return {
      status: 422,
      body: {
        ...error.toJSON(),
        accepted: 0,
        rejected: outcome.rejected,
        rejected_count: outcome.rejectedCount,
        duplicates: outcome.duplicates,
      },
    };
  }
  return {
    status: 200,
    body: {
      object: 'recipient_import',
      accepted: outcome.accepted,
      rejected: outcome.rejected,
      rejected_count: outcome.rejectedCount,
      duplicates: outcome.duplicates,
      recipients_count: outcome.recipientsCount,
    },
  };
}

/**
 * `POST /campaigns/:id/recipients`, mounted before the API's 64 kB JSON parser: a CSV is read as
 * a stream under its own cap, a JSON list parsed under the same cap.
 */
export function campaignImportRoutes(deps: CampaignHttpDeps): Router {
  const imports = createRecipientImport({ campaigns: deps.campaigns, limits: deps.campaignImportLimits });
  const { maxBytes } = imports.limits;
  const load = loader(deps);
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.campaign, 'campaign');

  const json = express.json({ limit: maxBytes });
  const parseJson: RequestHandler = (req, res, next) => {
    json(req, res, (err?: { type?: string }) =>
      next(err?.type === 'entity.too.large' ? bodyTooLarge(maxBytes) : err),
    );
  };

  /** The campaign is checked before a byte of the body is read. */
  const admit: RequestHandler = async (req, res, next) => {
    const campaign = await load(req);
    imports.admit(campaign, Number(req.get('content-length')));
    res.locals.campaign = campaign;
    next();
  };

  router.post('/:id/recipients', admit, parseJson, async (req, res) => {
    const q = parseQuery(ImportQuerySchema, req.query);
    const campaign = res.locals.campaign as CampaignRow;
    let batch: RecipientBatch;
    if (req.is('text/csv')) {
      const charset = /charset\s*=\s*"?([^";]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8' && charset !== 'utf8') throw unsupportedEncoding(charset);
      try {
        batch = await imports.readCsv(campaign, req);
      } catch (err) {
        // The rest of a refused upload is not read: the connection closes after the answer.
        if (!req.complete) {
          res.set('Connection', 'close');
          req.resume();
        }
        throw err;
      }
    } else if (req.is('application/json')) {
      batch = imports.readJson(campaign, parseBody(ImportJsonSchema, req.body).recipients);
    } else {
      throw unsupportedMediaType();
    }
    const answer = importAnswer(await imports.add(campaign, batch, q.all_or_nothing === 'true'));
    res.status(answer.status).json(answer.body);
  });

  return router;
}

export function campaignRoutes(deps: CampaignHttpDeps): Router {
  const { db, logger } = deps;
  const service = createCampaignService(deps);
  const load = loader(deps);
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.campaign, 'campaign');

  router.post(
    '/',
    withIdempotency(
      db,
      async (req, id) => {
        const body = parseBody(CreateCampaignSchema, req.body);
        const row = await service.create(accountOf(req).id, id, body);
        return { status: 201, body: serializeCampaign(row, await service.progress(row)) };
      },
      { reserve: ID_PREFIX.campaign },
    ),
  );

  router.get('/', async (req, res) => {
    const q = parseQuery(CampaignListQuerySchema, req.query);
    const { rows, hasMore } = await service.list(accountOf(req).id, q);
    res.json({ object: 'list', data: rows.map((row) => serializeCampaign(row)), has_more: hasMore });
  });

  router.get('/:id', async (req, res) => {
    const campaign = await load(req);
    res.json(serializeCampaign(campaign, await service.progress(campaign)));
  });

  router.get('/:id/recipients', async (req, res) => {
    const q = parseQuery(RecipientsQuerySchema, req.query);
    const campaign = await load(req);
    res.json(await service.recipients(campaign, q));
  });

  router.get('/:id/results.csv', async (req, res) => {
    const campaign = await load(req);
    const csv = await service.results(campaign);
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

/** Starting, pausing, resuming and cancelling a campaign; each answers the campaign as it now is. */
export function campaignRunRoutes({ campaignEngine }: Pick<CampaignHttpDeps, 'campaignEngine'>): Router {
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.campaign, 'campaign');

  router.post('/:id/start', async (req, res) => {
    parseBody(CampaignRunSchema, bodyOf(req.body));
    res.json(serializeCampaign(await campaignEngine.start(accountOf(req), req.params.id)));
  });
  router.post('/:id/pause', async (req, res) => {
    parseBody(CampaignRunSchema, bodyOf(req.body));
    res.json(serializeCampaign(await campaignEngine.pause(accountOf(req), req.params.id)));
  });
  router.post('/:id/resume', async (req, res) => {
    parseBody(CampaignRunSchema, bodyOf(req.body));
    res.json(serializeCampaign(await campaignEngine.resume(accountOf(req), req.params.id)));
  });
  router.post('/:id/cancel', async (req, res) => {
    const body = parseBody(CancelCampaignSchema, bodyOf(req.body));
    const row = await campaignEngine.cancel(accountOf(req), req.params.id, {
      cancelLinks: body.cancel_links ?? false,
    });
    res.json(serializeCampaign(row));
  });
  return router;
}
