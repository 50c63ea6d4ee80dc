import type { ErrorRequestHandler } from 'express';
import { ZodError, type z } from 'zod';
import { isDatabaseUnavailable } from '../db/connection-errors';
import { dataExceptionCode } from '../db/data-errors';
import type { Logger } from '../logger';
import { isTemporalUnavailable } from '../temporal/unavailable';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  | 'service_unavailable_error'
  | 'api_error';

/** The one error every API response carries: `{ "error": { type, code, message, param? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly param?: string,
    /** Ids the client needs to act on the error (for example the link that holds a slot). */
    readonly details?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON() {
    return {
      error: {
        type: this.type,
        code: this.code,
        message: this.message,
        ...(this.param ? { param: this.param } : {}),
        ...this.details,
      },
    };
  }

  static invalid(message: string, param?: string, code = 'parameter_invalid') {
    return new ApiError(400, 'invalid_request_error', code, message, param);
  }

  static notFound(what: string, id: string) {
    return new ApiError(404, 'not_found_error', 'resource_missing', `No such ${what}: '${id}'`);
  }

  static conflict(message: string, code: string, param?: string, details?: Record<string, string>) {
    return new ApiError(409, 'conflict_error', code, message, param, details);
  }

  static unprocessable(message: string, code: string) {
    return new ApiError(422, 'invalid_request_error', code, message);
  }

  static unavailable(message: string) {
    return new ApiError(503, 'service_unavailable_error', 'service_unavailable', message);
  }
}

/** The first zod issue, phrased for a client, with the field path as `param` (snake_case, dotted). */
export function fromZodError(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  if (!issue) return ApiError.invalid('invalid request');
  const param = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = [param, issue.keys[0]].filter(Boolean).join('.');
    return ApiError.invalid(`Received unknown parameter: ${key}`, key, 'parameter_unknown');
  }
  const missing = issue.code === 'invalid_type' && issue.input === undefined;
  if (missing) return ApiError.invalid(`Missing required param: ${param}`, param, 'parameter_missing');
  return ApiError.invalid(param ? `Invalid ${param}: ${issue.message}` : issue.message, param || undefined);
}

/** What a client is told to wait before retrying a 503: the pool reconnects within a second or two. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * Postgres or Temporal unreachable, timed out or shutting down: a 503 the client may retry,
 * never a 500. Undefined when the error is anything else (a refused query stays what it is).
 */
export function fromDependencyOutage(err: unknown): ApiError | undefined {
  if (isDatabaseUnavailable(err))
    return ApiError.unavailable('The database is not answering right now. Retry later.');
  if (isTemporalUnavailable(err))
    return ApiError.unavailable('The workflow service is not answering right now. Retry later.');
  return undefined;
}

/**
 * What an outage is logged with: the driver's own words and code, without the statement knex
 * prefixes to the message (its bindings inlined: ids, hashes, personal data).
 */
export function outageReason(err: unknown): { reason: string; code?: unknown } {
  const { message, code } = (err ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  return { reason: text.split(' - ').at(-1) ?? text, ...(code !== undefined ? { code } : {}) };
}

/** Body-parser failures carry a `type`; everything else unknown is a 500 without details. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let apiError: ApiError;
    if (err instanceof ApiError) apiError = err;
    else if (err instanceof ZodError) apiError = fromZodError(err);
    else if (dataExceptionCode(err)) {
      // Bad input the schemas let through: the client's mistake, told without the SQL; logged,
      // because a schema should have caught it.
      logger.warn({ sqlstate: dataExceptionCode(err), method: req.method, path: req.path }, 'data error');
      apiError = ApiError.invalid('A value in the request cannot be stored', undefined, 'value_invalid');
    } else if (err?.type === 'entity.parse.failed')
      apiError = ApiError.invalid('Request body is not valid JSON', undefined, 'invalid_json');
    else if (err?.type === 'entity.too.large')
      apiError = new ApiError(413, 'invalid_request_error', 'body_too_large', 'Request body is too large');
    else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported')
      apiError = new ApiError(
        415,
        'invalid_request_error',
        'unsupported_encoding',
        'Unsupported body encoding',
      );
    else if (
      typeof err?.status === 'number' &&
      err.status >= 400 &&
      err.status < 500 &&
      err.expose !== false
    ) {
      // Express and body-parser's own 4xx (a malformed URL, too many parameters, an aborted body).
      apiError = new ApiError(
        err.status,
        'invalid_request_error',
        String(err.type ?? 'bad_request'),
        err.message,
      );
    } else {
      const outage = fromDependencyOutage(err);
      if (outage) {
        // One line per request, no stack: an outage is not a bug, and it floods the log.
        logger.warn({ method: req.method, path: req.path, ...outageReason(err) }, 'dependency unavailable');
        apiError = outage;
      } else {
        logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
        apiError = new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred');
      }
    }
    if (apiError.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(apiError.status).json(apiError.toJSON());
  };
}
