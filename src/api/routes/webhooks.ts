import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { type ResolveHost, webhookUrlProblem } from '../../webhooks/egress';
import type { WebhookStore } from '../../webhooks/webhook-store';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { withIdempotency } from '../idempotency';
import { PaginationSchema, paginate } from '../pagination';
import { httpUrl, text } from '../text';
import { parseBody, parseQuery } from '../validation';

export const EndpointSchema = z.strictObject({ url: httpUrl() });

export const DeliveriesQuerySchema = PaginationSchema.extend({ event_id: text(255, 1).optional() }).strict();

interface DeliveryRow {
  id: string;
  created_at: Date;
  event_id: string;
  event_type: string;
  link_id: string | null;
  url: string;
  attempt: number;
  response_status: number | null;
  error: string | null;
  duration_ms: number | null;
}

/** The account's webhook endpoint (its secret shown once) and every delivery attempt. */
export function webhookRoutes({
  db,
  webhooks,
  allowPrivateWebhookUrls,
  resolveWebhookHost,
  secretsKey,
}: {
  db: Db;
  webhooks: WebhookStore;
  /** Encrypts the stored answer of an idempotent request: it holds the secret. */
  secretsKey: Buffer;
  /** Local receivers, for development and tests only. */
  allowPrivateWebhookUrls: boolean;
  resolveWebhookHost?: ResolveHost;
}): Router {
  const router = Router();

  // A retry with the same Idempotency-Key gets the secret the first attempt set, not a new one.
  router.put(
    '/webhook_endpoint',
    withIdempotency(
      db,
      async (req) => {
        const { url } = parseBody(EndpointSchema, req.body);
        // Delivery checks again at connect time (the name may later resolve elsewhere).
        const problem = await webhookUrlProblem(url, {
          allowPrivate: allowPrivateWebhookUrls,
          resolve: resolveWebhookHost,
        });
        if (problem) throw ApiError.invalid(`Invalid url: ${problem}`, 'url');
        const endpoint = await webhooks.setEndpoint(accountOf(req).id, url);
        return {
          status: 200,
          body: { object: 'webhook_endpoint', url: endpoint.url, secret: endpoint.secret },
        };
      },
      { sealWith: secretsKey },
    ),
  );
  router.get('/webhook_endpoint', async (req, res) => {
    res.json({ object: 'webhook_endpoint', url: await webhooks.endpointUrl(accountOf(req).id) });
  });
  router.delete('/webhook_endpoint', async (req, res) => {
    await webhooks.clearEndpoint(accountOf(req).id);
    res.status(204).end();
  });

  router.get('/webhook_deliveries', async (req, res) => {
    const q = parseQuery(DeliveriesQuerySchema, req.query);
    const { rows, hasMore } = await paginate<DeliveryRow>(
      db,
      'webhook_deliveries',
      accountOf(req).id,
      q,
      (query) => {
        if (q.event_id) query.where('webhook_deliveries.event_id', q.event_id);
      },
    );
    res.json({
      object: 'list',
      data: rows.map((d) => ({
        id: d.id,
        object: 'webhook_delivery',
        event_id: d.event_id,
        event_type: d.event_type,
        payment_link: d.link_id,
        url: d.url,
        attempt: d.attempt,
        response_status: d.response_status,
        error: d.error,
        duration_ms: d.duration_ms,
        created_at: d.created_at.toISOString(),
      })),
      has_more: hasMore,
    });
  });
  return router;
}
