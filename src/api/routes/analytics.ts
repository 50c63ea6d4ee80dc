import { Router } from 'express';
import { AnalyticsQuerySchema, linkAnalytics } from '../../analytics/link-analytics';
import type { Db } from '../../db/knex';
import { accountOf } from '../auth';
import { parseQuery } from '../validation';

/** `GET /v1/analytics/payment_links`: the account's link figures, grouped. */
export function analyticsRoutes({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/analytics/payment_links', async (req, res) => {
    const query = parseQuery(AnalyticsQuerySchema, req.query);
    res.json({ object: 'list', data: await linkAnalytics(db, accountOf(req).id, query) });
  });
  return router;
}
