import type { RequestHandler } from 'express';
import helmet from 'helmet';

type HeaderStep = { set: string; value: string } | { remove: string };

/**
 * What helmet's middleware does to a response, recorded once. Every header here is a constant
 * (no per-request nonce), so replaying the recording sets exactly helmet's headers without
 * running its thirteen middlewares and rebuilding the CSP string on every request.
 */
function recordHeaders(middleware: RequestHandler): HeaderStep[] {
  const steps: HeaderStep[] = [];
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      steps.push({ set: name, value: String(value) });
      return res;
    },
    removeHeader(name: string) {
      steps.push({ remove: name });
    },
  };
  let called = false;
  middleware({} as never, res as never, (err?: unknown) => {
    if (err) throw err;
    called = true;
  });
  if (!called) throw new Error('helmet did not finish synchronously: its headers cannot be precomputed');
  return steps;
}

/**
 * Security headers. Pages post forms to themselves; the sandbox checkout then redirects to the
 * merchant's https success URL, which form-action must allow.
 */
export const securityHeaders = (options: { allowHttpRedirects: boolean }): RequestHandler => {
  const steps = recordHeaders(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'form-action': ["'self'", 'https:', ...(options.allowHttpRedirects ? ['http:'] : [])],
        },
      },
    }),
  );
  return (_req, res, next) => {
    for (const step of steps) {
      if ('set' in step) res.setHeader(step.set, step.value);
      else res.removeHeader(step.remove);
    }
    next();
  };
};
