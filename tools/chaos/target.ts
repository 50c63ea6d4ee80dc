/**
 * What a fault-suite check needs of a running engine: its address, an account, and the stores to
 * look into afterwards. The chaos script's engine (real processes) and the test stack both fit.
 */
import type { Client } from '@temporalio/client';
import type { Db } from '../../src/db/knex';

export interface Target {
  baseUrl: string;
  apiKey: string;
  accountId: string;
  db: Db;
  temporal: Client;
  taskQueue: string;
  sandboxSecret: string;
}

export interface Answer {
  status: number;
  /** JSON when the answer was JSON, else the text. */
  body: any;
  headers: Headers;
  ms: number;
}

/**
 * The API's rate limits key on the client address, and it trusts X-Forwarded-For from loopback:
 * load from many "clients" goes through the limits the way many real clients' would.
 */
export const fromClient = (n: number): Record<string, string> => ({
  'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
});

export interface Send {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/** One HTTP request, no redirect followed, timed; a network error is thrown. */
export async function send(baseUrl: string, request: Send): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) {
    try {
      body = JSON.parse(text);
    } catch {
      // left as text
    }
  }
  return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
}

/** A JSON request to the management API with the account's key. */
export function api(
  target: Target,
  method: string,
  path: string,
  json?: unknown,
  extra: Record<string, string> = {},
) {
  return send(target.baseUrl, {
    method,
    path,
    headers: {
      authorization: `Bearer ${target.apiKey}`,
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...extra,
    },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
}

/** A link's public token, from the URL the API gives for it. */
export const tokenOf = (link: { url: string }): string =>
  new URL(link.url).pathname.split('/').at(-1) as string;

/** Opens a payment session on a link as the customer's browser does; returns the session id. */
export async function openSession(
  target: Target,
  token: string,
  amount?: string,
  client = 0,
): Promise<{ status: number; sessionId?: string }> {
  const r = await send(target.baseUrl, {
    method: 'POST',
    path: `/l/${encodeURIComponent(token)}/pay`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...fromClient(client) },
    body: new URLSearchParams(amount ? { amount } : {}).toString(),
  });
  const location = r.headers.get('location') ?? '';
  const match = /\/sandbox\/checkout\/(ps_[A-Za-z0-9_-]+)/.exec(location);
  return { status: r.status, ...(match?.[1] ? { sessionId: match[1] } : {}) };
}
