import { Router } from 'express';
import { z } from 'zod';
import { type AccountSettings, accountSettings, changeAccountSettings } from '../../accounts/settings';
import type { Db } from '../../db/knex';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { parseBody } from '../validation';

export const AccountSettingsSchema = z.strictObject({
  /** Refund a payment that arrives after its link closed at once, instead of leaving it for review. */
  auto_refund_late_payments: z.boolean().optional(),
});

const serialize = (a: AccountSettings) => ({
  id: a.id,
  object: 'account' as const,
  name: a.name,
  timezone: a.timezone,
  auto_refund_late_payments: a.autoRefundLatePayments,
});

/** `GET/PATCH /v1/account`: the authenticated account and its settings. */
export function accountRoutes({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/account', async (req, res) => {
    const account = await accountSettings(db, accountOf(req).id);
    if (!account) throw ApiError.notFound('account', accountOf(req).id);
    res.json(serialize(account));
  });
  router.patch('/account', async (req, res) => {
    const body = parseBody(AccountSettingsSchema, req.body);
    const account = await changeAccountSettings(db, accountOf(req).id, {
      ...(body.auto_refund_late_payments !== undefined
        ? { autoRefundLatePayments: body.auto_refund_late_payments }
        : {}),
    });
    if (!account) throw ApiError.notFound('account', accountOf(req).id);
    res.json(serialize(account));
  });
  return router;
}
