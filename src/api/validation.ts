import type { RequestHandler, Router } from 'express';
import type { z } from 'zod';
import { isIdShaped } from '../ids';
import { ApiError, fromZodError } from './errors';

/** Parses a JSON body against a schema; a body that is not an object gets a clear 400. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw ApiError.invalid(
      'Request body must be a JSON object sent with Content-Type: application/json',
      undefined,
      'body_invalid',
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/** Parses a query string; unknown parameters are refused like unknown body fields. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const parsed = schema.safeParse(query ?? {});
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/**
 * An id in the path that cannot be one (wrong prefix, a NUL, a lone surrogate) is answered exactly
 * like an unknown id, 404, and never reaches a query.
 */
export const pathId =
  (prefix: string, what: string): RequestHandler<{ id: string }> =>
  (req, _res, next) => {
    next(isIdShaped(prefix, req.params.id) ? undefined : ApiError.notFound(what, req.params.id));
  };

/** `pathId` for every route of a router that names the param. */
export function pathIds(router: Router, param: string, prefix: string, what: string): void {
  router.param(param, (_req, _res, next, value: string) => {
    next(isIdShaped(prefix, value) ? undefined : ApiError.notFound(what, value));
  });
}
