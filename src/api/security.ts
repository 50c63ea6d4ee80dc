import type { RequestHandler } from 'express';
import helmet from 'helmet';

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
