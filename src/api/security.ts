import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { ApiError } from './errors';

export interface RateLimits {
  /** The public link pages and checkout, per client IP. */
  publicPerMinute: number;
  /** Provider callbacks, per client IP. */
  callbacksPerMinute: number;
  /** Requests refused with 401, per client IP: slows down key guessing. */
  failedAuthPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  publicPerMinute: 300,
  callbacksPerMinute: 1200,
  failedAuthPerMinute: 30,
};

const limited = new ApiError(429, 'rate_limit_error', 'rate_limited', 'Too many requests; retry later');

function limiter(perMinute: number, options: { onlyUnauthorized?: boolean } = {}): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Authenticated requests are neither counted nor ever blocked by the failed-auth limiter.
    ...(options.onlyUnauthorized ? { skip: (req) => req.account !== undefined } : {}),
    handler: (_req, res) => {
      res.status(429).json(limited.toJSON());
    },
  });
}

export const limiters = (limits: RateLimits) => ({
  publicPages: limiter(limits.publicPerMinute),
  callbacks: limiter(limits.callbacksPerMinute),
  failedAuth: limiter(limits.failedAuthPerMinute, { onlyUnauthorized: true }),
});

/**
 * Security headers. Pages post forms to themselves; the sandbox checkout then redirects to the
 * merchant's https success URL, which form-action must allow.
 */
export const securityHeaders = (options: { allowHttpRedirects: boolean }): RequestHandler =>
  helmet({
    contentSecurityPolicy: {
      directives: { 'form-action': ["'self'", 'https:', ...(options.allowHttpRedirects ? ['http:'] : [])] },
    },
  });
