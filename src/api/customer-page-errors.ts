import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../logger';
import { renderUnavailablePage, UNAVAILABLE_PAGE_LANGUAGES } from '../public/unavailable-page';
import { ApiError, fromDependencyOutage, outageReason, RETRY_AFTER_SECONDS } from './errors';

/** The paths a customer's browser opens: the link page and its pay/QR routes, checkout, unsubscribe. */
export const CUSTOMER_PAGE_PATHS = ['/l', '/sandbox', '/u'];

/**
 * Errors on a customer's page answer HTML in the browser's language: 503 with Retry-After when
 * a dependency is down, 500 for anything unexpected. Client errors (4xx) keep their usual answer.
 */
export function customerPageErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent || (err instanceof ApiError && err.status < 500)) return next(err);
    if (!(err instanceof ApiError) && typeof err?.status === 'number' && err.status < 500) return next(err);
    const outage = err instanceof ApiError ? err.status === 503 : Boolean(fromDependencyOutage(err));
    const language = req.acceptsLanguages(...UNAVAILABLE_PAGE_LANGUAGES) || 'en';
    if (outage) {
      logger.warn({ method: req.method, path: req.path, ...outageReason(err) }, 'dependency unavailable');
      res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    } else {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    }
    res
      .status(outage ? 503 : 500)
      .type('html')
      .set('Cache-Control', 'no-store')
      .set('Content-Language', language)
      .send(
        renderUnavailablePage(
          language,
          outage ? 'unavailable' : 'failed',
          req.method === 'GET' ? req.originalUrl : undefined,
        ),
      );
  };
}
