import { ApiError } from '../api/errors';

/**
 * Whether the link service refused the link itself, so that retrying the same request cannot
 * help: a 4xx other than 429, or its workflow refusing to store the link (`link_not_created`).
 * The link service still answers with the API's errors; this is the one place in campaigns that
 * reads one, so the run's steps and the activities over them speak in the campaign's own codes.
 */
export const isLinkRefusal = (err: unknown): err is ApiError =>
  err instanceof ApiError &&
  ((err.status >= 400 && err.status < 500 && err.status !== 429) || err.code === 'link_not_created');
