import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

const PAGES = fileURLToPath(new URL('../../dashboard/', import.meta.url));
/** Chart.js's self-contained build, served from its npm package: no CDN. */
const CHART_DIST = dirname(createRequire(import.meta.url).resolve('chart.js'));

/**
 * The operator's dashboard: static pages and modules (no inline script, so the API's strict CSP
 * holds); they call the management API with the key the operator enters.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  const page = (file: string) => (_req: express.Request, res: express.Response) => {
    res.set('Cache-Control', 'no-store').sendFile(join(PAGES, file));
  };
  router.get('/dashboard', page('index.html'));
  router.get('/dashboard/links/:id', page('timeline.html'));
  router.use('/dashboard/assets', express.static(join(PAGES, 'assets'), { index: false }));
  router.get('/dashboard/vendor/chart.umd.min.js', (_req, res) => {
    res.sendFile(join(CHART_DIST, 'chart.umd.min.js'));
  });
  return router;
}
