import { Router } from 'express';
import { CreatePaymentLinkSchema } from '../../links/create-link';
import type { LinkService } from '../../links/link-service';
import type { LinkStore } from '../../links/link-store';
import { serializeEvent, serializeLink } from '../../links/serialize';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { parseBody } from '../validation';

export interface PaymentLinkRoutesDeps {
  links: LinkStore;
  linkService: LinkService;
  publicBaseUrl: string;
}

export function paymentLinkRoutes({ links, linkService, publicBaseUrl }: PaymentLinkRoutesDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parseBody(CreatePaymentLinkSchema, req.body);
    const row = await linkService.create(accountOf(req), body);
    res.status(201).json(serializeLink(row, publicBaseUrl));
  });

  router.get('/:id', async (req, res) => {
    const row = await links.findLink(accountOf(req).id, req.params.id);
    if (!row) throw ApiError.notFound('payment link', req.params.id);
    res.json(serializeLink(row, publicBaseUrl));
  });

  router.get('/:id/events', async (req, res) => {
    const accountId = accountOf(req).id;
    const row = await links.findLink(accountId, req.params.id);
    if (!row) throw ApiError.notFound('payment link', req.params.id);
    const events = await links.listEvents(accountId, row.id);
    res.json({ object: 'list', data: events.map(serializeEvent) });
  });

  return router;
}
