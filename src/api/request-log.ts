import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from '../logger';
import { callbackVerificationFailures, httpRequestDuration } from '../observability/metrics';
import { REQUEST_ID_HEADER, requestIdFrom, runInRequest } from '../observability/request-context';
import { ApiError } from './errors';

const ROUTE = Symbol('route');
const PATTERN = Symbol('routePattern');
type Tracked = Request & { [ROUTE]?: unknown; [PATTERN]?: string };
/** The request prototypes (one per app) whose `route` is already tracked. */
const tracked = new WeakSet<object>();

/**
 * The route pattern (`/v1/payment_links/:id`), never the raw path: ids in metric labels would make
 * one series per link. Express restores `req.baseUrl` when an error leaves a nested router, so the
 * pattern is captured at the moment a route matches, when `baseUrl` is still the router's: by an
 * accessor on the app's request prototype, defined once, rather than on every request (a
 * per-request property definition costs more than the rest of the log line).
 */
function trackRoutePattern(req: Request): void {
  const proto = Object.getPrototypeOf(req) as object;
  if (tracked.has(proto)) return;
  tracked.add(proto);
  Object.defineProperty(proto, 'route', {
    configurable: true,
    enumerable: true,
    get(this: Tracked) {
      return this[ROUTE];
    },
    set(this: Tracked, value: { path?: unknown } | undefined) {
      this[ROUTE] = value;
      // A router's '/' route under '/v1/payment_links' is '/v1/payment_links', not '…/'.
      if (value && typeof value.path === 'string')
        this[PATTERN] = `${this.baseUrl}${value.path}`.replace(/(.)\/$/, '$1');
    },
  });
}

/**
 * One JSON line per request (method, route, status, duration, request id, account id), the
 * request-duration histogram, and the request id: taken from a sane `X-Request-Id` or made up,
 * returned in the response header, and in scope for everything the request logs or asks Temporal.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    trackRoutePattern(req);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req as Tracked)[PATTERN] ?? 'unmatched';
      httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      logger.info(
        {
          request_id: requestId,
          method: req.method,
          route,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          account_id: req.account?.id,
        },
        'request',
      );
    });
    runInRequest({ requestId }, () => next());
  };
}

/** Counts refused provider callbacks (bad or missing signatures), then lets the error through. */
export const countCallbackFailures: ErrorRequestHandler = (err, req, _res, next) => {
  if (err instanceof ApiError && err.code.startsWith('signature_') && req.path.startsWith('/v1/callbacks/')) {
    callbackVerificationFailures.inc({ provider: req.path.split('/')[3] || 'unknown' });
  }
  next(err);
};
