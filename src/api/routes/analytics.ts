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
    const { data, percentiles } = await linkAnalytics(db, accountOf(req).id, query);
    // Which way median and p90 were computed: the body's fields are the contract's, so not there.
    res.set('Paylinks-Percentiles', percentiles);
    res.json({ object: 'list', data });
  });
  return router;
}
