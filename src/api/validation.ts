import type { z } from 'zod';
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
