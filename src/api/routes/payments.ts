import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { ID_PREFIX } from '../../ids';
import { MAX_AMOUNT } from '../../money/amount';
import { type Refunds, serializeRefund } from '../../payments/refunds';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { withIdempotency } from '../idempotency';
import { parseBody, pathIds } from '../validation';

export const RefundSchema = z.strictObject({
  /** Minor units; default: all that is left to refund. */
  amount: z.int().positive().max(MAX_AMOUNT).optional(),
});

/** A payment with what was refunded of it, and `POST /v1/payments/:id/refund`. */
export function paymentRoutes({ db, refunds }: { db: Db; refunds: Refunds }): Router {
  const router = Router();
  pathIds(router, 'id', ID_PREFIX.payment, 'payment');

  router.get('/payments/:id', async (req, res) => {
    const found = await refunds.paymentWithRefunds(accountOf(req).id, req.params.id);
    if (!found) throw ApiError.notFound('payment', req.params.id);
    const { payment } = found;
    res.json({
      id: payment.id,
      object: 'payment',
      payment_link: payment.link_id,
      provider: payment.provider,
      provider_payment_id: payment.provider_payment_id,
      amount: payment.amount,
      amount_refunded: payment.amount_refunded,
      currency: payment.currency,
      status: payment.status,
      flags: payment.flags,
      refund_review: payment.refund_review,
      refunds: found.refunds.map(serializeRefund),
      created_at: payment.created_at.toISOString(),
    });
  });

  router.post(
    '/payments/:id/refund',
    withIdempotency<{ id: string }>(
      db,
      async (req, refundId) => {
        const { amount } = parseBody(RefundSchema, req.body ?? {});
        const refund = await refunds.refund(accountOf(req).id, req.params.id, amount, refundId);
        return { status: 200, body: serializeRefund(refund) };
      },
      { reserve: 're' },
    ),
  );
  return router;
}
