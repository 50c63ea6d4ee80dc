import { type Request, Router } from 'express';
import { z } from 'zod';
import { CHANNELS, LINK_STATUSES } from '../../../workflows/payment-link/contract';
import type { Db } from '../../db/knex';
import { ID_PREFIX } from '../../ids';
import { CreatePaymentLinkSchema, UpdatePaymentLinkSchema } from '../../links/create-link';
import type { LinkService } from '../../links/link-service';
import type { LinkRow, LinkStore, PaymentRow } from '../../links/link-store';
import type { PageViews } from '../../links/page-views';
import { serializeEvent, serializeLink } from '../../links/serialize';
import { accountOf } from '../auth';
import { IDEMPOTENCY_HEADER, withIdempotency } from '../idempotency';
import { PaginationSchema, paginate } from '../pagination';
import { idOf, isoDateTime, MAX_REFERENCE_LENGTH, text } from '../text';
import { parseBody, parseQuery, pathIds } from '../validation';

export interface PaymentLinkRoutesDeps {
  db: Db;
  links: LinkStore;
  linkService: LinkService;
  publicBaseUrl: string;
  pageViews: Pick<PageViews, 'forLink'>;
  /** A change this API made to a link: its public page is rendered anew on the next view. */
  onLinkChanged?: (link: LinkRow) => void;
}

export const ListQuerySchema = PaginationSchema.extend({
  status: z.enum(LINK_STATUSES).optional(),
  customer_id: idOf(ID_PREFIX.customer, 'customer').optional(),
  invoice_id: idOf(ID_PREFIX.invoice, 'invoice').optional(),
  order_id: idOf(ID_PREFIX.order, 'order').optional(),
  campaign_id: text(MAX_REFERENCE_LENGTH, 1).optional(),
  reference: text(MAX_REFERENCE_LENGTH, 1).optional(),
  'created[gte]': isoDateTime().optional(),
  'created[lte]': isoDateTime().optional(),
}).strict();

export const CancelSchema = z.strictObject({
  reason: text(500).optional(),
  notify_customer: z.boolean().optional(),
});
export const ReissueSchema = z.strictObject({ expires_in: text(64).optional() });
export const NotifySchema = z.strictObject({ channel: z.enum(CHANNELS) });

const serializePayment = (p: PaymentRow) => ({
  id: p.id,
  object: 'payment' as const,
  payment_link: p.link_id,
  provider: p.provider,
  provider_payment_id: p.provider_payment_id,
  amount: p.amount,
  amount_refunded: p.amount_refunded,
  currency: p.currency,
  status: p.status,
  flags: p.flags,
  refund_review: p.refund_review,
  created_at: p.created_at.toISOString(),
});

export function paymentLinkRoutes({
  db,
  links,
  linkService,
  publicBaseUrl,
  pageViews,
  onLinkChanged,
}: PaymentLinkRoutesDeps): Router {
  const router = Router();
  const show = (row: LinkRow) => serializeLink(row, publicBaseUrl);
  const changed = (row: LinkRow) => {
    onLinkChanged?.(row);
    return show(row);
  };
  pathIds(router, 'id', ID_PREFIX.paymentLink, 'payment link');

  router.post(
    '/',
    withIdempotency(
      db,
      async (req, linkId) => {
        const body = parseBody(CreatePaymentLinkSchema, req.body);
        return { status: 201, body: show(await linkService.create(accountOf(req), body, { linkId })) };
      },
      { reserve: 'plink' },
    ),
  );

  router.get('/', async (req, res) => {
    const q = parseQuery(ListQuerySchema, req.query);
    const { rows, hasMore } = await paginate<LinkRow>(db, 'payment_links', accountOf(req).id, q, (query) => {
      for (const column of [
        'status',
        'customer_id',
        'invoice_id',
        'order_id',
        'campaign_id',
        'reference',
      ] as const) {
        if (q[column] !== undefined) query.where(`payment_links.${column}`, q[column]);
      }
      if (q['created[gte]']) query.where('payment_links.created_at', '>=', q['created[gte]']);
      if (q['created[lte]']) query.where('payment_links.created_at', '<=', q['created[lte]']);
    });
    res.json({ object: 'list', data: rows.map(show), has_more: hasMore });
  });

  router.get('/:id', async (req, res) => {
    const row = await linkService.get(accountOf(req), req.params.id);
    const views = await pageViews.forLink(row.account_id, row.id);
    res.json(serializeLink(row, publicBaseUrl, { views }));
  });

  // An Idempotency-Key makes a retry the same workflow update again (its reserved id is the
  // update id): Temporal runs it once and answers its outcome, even after the link closed.
  const keyedUpdateId = (req: Request, reserved: string) =>
    req.get(IDEMPOTENCY_HEADER) === undefined ? undefined : reserved;

  router.post(
    '/:id',
    withIdempotency<{ id: string }>(
      db,
      async (req, reserved) => {
        const body = parseBody(UpdatePaymentLinkSchema, req.body);
        const row = await linkService.update(
          accountOf(req),
          req.params.id,
          {
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
            ...(body.reminders !== undefined
              ? {
                  reminders: {
                    afterCreated: body.reminders.after_created ?? [],
                    beforeExpiry: body.reminders.before_expiry ?? [],
                  },
                }
              : {}),
            ...(body.quiet_hours !== undefined ? { quietHours: body.quiet_hours } : {}),
            ...(body.expires_at !== undefined ? { expiresAt: body.expires_at } : {}),
          },
          keyedUpdateId(req, reserved),
        );
        return { status: 200, body: changed(row) };
      },
      { reserve: 'update' },
    ),
  );

  router.post(
    '/:id/cancel',
    withIdempotency<{ id: string }>(
      db,
      async (req, reserved) => {
        const body = parseBody(CancelSchema, req.body ?? {});
        const row = await linkService.cancel(
          accountOf(req),
          req.params.id,
          {
            ...(body.reason ? { reason: body.reason } : {}),
            ...(body.notify_customer ? { notifyCustomer: true } : {}),
          },
          keyedUpdateId(req, reserved),
        );
        return { status: 200, body: changed(row) };
      },
      { reserve: 'cancel' },
    ),
  );

  router.post(
    '/:id/reissue',
    withIdempotency<{ id: string }>(
      db,
      // The replacement's id is the old link's to derive (one per link), not the key's to reserve.
      async (req) => {
        const body = parseBody(ReissueSchema, req.body ?? {});
        const { link, created } = await linkService.reissue(accountOf(req), req.params.id, body.expires_in);
        return { status: created ? 201 : 200, body: show(link) };
      },
    ),
  );

  router.post(
    '/:id/notify',
    withIdempotency<{ id: string }>(
      db,
      async (req, updateId) => {
        const body = parseBody(NotifySchema, req.body);
        const row = await linkService.notify(accountOf(req), req.params.id, body.channel, updateId);
        return { status: 200, body: show(row) };
      },
      { reserve: 'notify' },
    ),
  );

  router.get('/:id/events', async (req, res) => {
    const row = await linkService.get(accountOf(req), req.params.id);
    const events = await links.listEvents(row.account_id, row.id);
    res.json({ object: 'list', data: events.map(serializeEvent), has_more: false });
  });

  router.get('/:id/payments', async (req, res) => {
    const row = await linkService.get(accountOf(req), req.params.id);
    const payments = await links.listPayments(row.account_id, row.id);
    res.json({ object: 'list', data: payments.map(serializePayment), has_more: false });
  });

  return router;
}
