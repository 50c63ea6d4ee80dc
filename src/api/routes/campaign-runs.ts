import { Router } from 'express';
import { z } from 'zod';
import type { CampaignEngine } from '../../campaigns/engine';
import { serializeCampaign } from '../../campaigns/serialize';
import { ID_PREFIX } from '../../ids';
import { accountOf } from '../auth';
import { parseBody, pathIds } from '../validation';

export interface CampaignRunRoutesDeps {
  campaignEngine: CampaignEngine;
}

/** start, pause and resume take no options (an empty body, or none). */
export const CampaignRunSchema = z.strictObject({});
export const CancelCampaignSchema = z.strictObject({
  /** Also cancel the links already sent (through each link's workflow). */
  cancel_links: z.boolean().optional(),
});

/** The body is optional: none is the same as `{}`. */
const bodyOf = (body: unknown) => (body === undefined || body === null ? {} : body);

/** Starting, pausing, resuming and cancelling a campaign; each answers the campaign as it now is. */
export function campaignRunRoutes({ campaignEngine }: CampaignRunRoutesDeps): Router {
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
