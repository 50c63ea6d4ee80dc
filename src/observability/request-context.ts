import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What the current HTTP request is known by, for every log line and Temporal call it makes. */
export interface RequestContext {
  requestId: string;
  accountId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const currentRequest = (): RequestContext | undefined => storage.getStore();

export const runInRequest = <T>(context: RequestContext, fn: () => T): T => storage.run(context, fn);

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * A caller's id is kept when it is sane (a proxy's or client's correlation id), so one request can
 * be followed across systems; anything else (too long, odd characters that could forge log lines
 * or headers) is replaced by our own.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestIdFrom(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && SANE_REQUEST_ID.test(value) ? value : `req_${randomUUID().replaceAll('-', '')}`;
}
