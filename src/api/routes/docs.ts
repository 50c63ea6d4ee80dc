import express, { Router } from 'express';
import swaggerUiDist from 'swagger-ui-dist';
import { buildOpenApiDocument } from '../openapi';

/** `/openapi.json` and `/docs` (Swagger UI, served from its npm package; no inline script). */
export function docsRoutes(publicBaseUrl: string): Router {
  const router = Router();
  const document = buildOpenApiDocument(publicBaseUrl);
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/docs', (_req, res) => {
    res
      .type('html')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Paylinks API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="swagger-ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>',
      );
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('js').send("window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });\n");
  });
  router.use('/docs/assets', express.static(swaggerUiDist.getAbsoluteFSPath(), { index: false }));
  return router;
}
