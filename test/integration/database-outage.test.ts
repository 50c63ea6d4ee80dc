/**
 * Postgres cut off from the API and the worker (a TCP proxy refusing, then black-holing them):
 * every request that needs it answers 503 with Retry-After, the customer's page in HTML in their
 * language, no request hangs on a dead connection, the pool recovers by itself once the database
 * is back, and nothing acknowledged before the cut is lost.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { createLogger } from '../../src/logger';
import { type Stack, startStack } from '../helpers/stack';
import { type ProxyMode, startTcpProxy } from '../helpers/tcp-proxy';
import { eventually } from '../helpers/temporal';

let stack: Stack;
let link: { id: string; url: string };
let customer: { id: string };
let sessionId: string;
let callbackBody: string;

/** Request durations during each cut and attempts to the first success after it: reported, not asserted. */
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  stack = await startStack({ databaseProxy: true });
  // Acknowledged before any cut: these must all be there afterwards.
  customer = (await stack.request('POST', '/v1/customers', { json: { name: 'Ada', locale: 'fr-FR' } })).body;
  const created = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 4200, currency: 'EUR', description: 'Before the cut', customer_id: customer.id },
  });
  expect(created.status).toBe(201);
  link = created.body;
  const pay = await stack.postForm(`${new URL(link.url).pathname}/pay`, {});
  expect(pay.status).toBe(303);
  sessionId = (pay.headers.get('location') as string).split('/').at(-1) as string;
  callbackBody = JSON.stringify({
    id: `evt_outage_${sessionId}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `pi_outage_${sessionId}`, amount: 4200, currency: 'EUR' },
  });
});
afterAll(async () => {
  if (Object.keys(figures).length > 0) console.log(`database outage figures: ${JSON.stringify(figures)}`);
  await stack?.stop();
});

const timed = async <T>(request: () => Promise<T>) => {
  const started = performance.now();
  const result = await request();
  return { result, ms: Math.round(performance.now() - started) };
};

/** A fetch whose status, headers and text body the test reads. */
const read = async (response: Promise<Response>) => {
  const res = await response;
  return { status: res.status, headers: res.headers, text: await res.text() };
};

async function duringCut(mode: ProxyMode) {
  const proxy = stack.databaseProxy;
  if (!proxy) throw new Error('the stack has no database proxy');
  await proxy.setMode(mode);
  const token = new URL(link.url).pathname;
  // Concurrently, as clients would: a black hole costs each its own timeout, not the sum.
  const [get, create, publicPage, qr, callback] = await Promise.all([
    timed(() => read(fetch(`${stack.baseUrl}/v1/payment_links/${link.id}`, auth()))),
    timed(() =>
      read(
        fetch(`${stack.baseUrl}/v1/payment_links`, {
          method: 'POST',
          headers: { ...auth().headers, 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 100, currency: 'EUR', description: 'During the cut' }),
        }),
      ),
    ),
    timed(() =>
      read(fetch(`${stack.baseUrl}${token}`, { headers: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' } })),
    ),
    timed(() => read(fetch(`${stack.baseUrl}${token}/qr.png`))),
    timed(() => read(stack.sandboxCallback(callbackBody))),
  ]);
  // The rest of the customer's pages (pay, the sandbox checkout, unsubscribe), and the probe.
  const [ready, ...others] = await Promise.all([
    read(fetch(`${stack.baseUrl}/readyz`)),
    read(stack.postForm(`${token}/pay`, {}, { 'accept-language': 'de-DE' })),
    read(fetch(`${stack.baseUrl}/sandbox/checkout/${sessionId}`, { headers: { 'accept-language': 'es' } })),
    read(fetch(`${stack.baseUrl}/u/unsubscribe-token-of-someone`, { headers: { 'accept-language': 'nl' } })),
  ]);
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.text)).toEqual({
    status: 'unavailable',
    checks: { postgres: 'unreachable', temporal: 'ok' },
  });
  for (const [page, lang] of others.map((p, i) => [p, ['de', 'es', 'nl'][i]] as const)) {
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(page.text).toContain(`<html lang="${lang}">`);
  }
  figures[`${mode}_ms`] = {
    authenticated_get: get.ms,
    create: create.ms,
    public_page: publicPage.ms,
    qr: qr.ms,
    callback: callback.ms,
  };

  for (const api of [get, create, callback]) {
    expect(api.result.status).toBe(503);
    expect(api.result.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.parse(api.result.text)).toEqual({
      error: {
        type: 'service_unavailable_error',
        code: 'service_unavailable',
        message: 'The database is not answering right now. Retry later.',
      },
    });
  }
  for (const page of [publicPage, qr]) {
    expect(page.result.status).toBe(503);
    expect(page.result.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(page.result.headers.get('content-type')).toMatch(/^text\/html/);
  }
  // The link cannot be read, so the browser's language is the customer's.
  expect(publicPage.result.text).toContain('<html lang="fr">');
  expect(publicPage.result.text).toContain('Cette page est momentanément indisponible');
  expect(qr.result.text).toContain('<html lang="en">');
  expect(qr.result.text).toContain('This page is temporarily unavailable');

  await proxy.setMode('pass');
  let attempts = 0;
  const started = performance.now();
  const back = await eventually(async () => {
    attempts += 1;
    const res = await fetch(`${stack.baseUrl}/v1/payment_links/${link.id}`, auth());
    return res.status === 200 ? res : undefined;
  }, 30_000);
  figures[`${mode}_recovery`] = { attempts, ms: Math.round(performance.now() - started) };
  // Bounded: at most one failure per pooled connection that died in the cut (pool max 10).
  expect(attempts).toBeLessThanOrEqual(11);
  expect(((await back.json()) as { id: string }).id).toBe(link.id);
}

const auth = () => ({ headers: { authorization: `Bearer ${stack.account.apiKey}` } });

describe('Postgres unreachable', () => {
  it('refused: every request answers 503 with Retry-After, the pages in HTML, then recovers', async () => {
    await duringCut('refuse');
  });

  it('black-holed: every request answers 503 instead of hanging, and dead connections are not reused', async () => {
    await duringCut('blackhole');
  });

  it('nothing acknowledged before the cuts is lost, nothing refused was stored, and writes work again', async () => {
    expect((await stack.request('GET', `/v1/customers/${customer.id}`)).status).toBe(200);
    const rows = await stack.db('payment_links').select('id', 'description');
    expect(rows).toEqual([{ id: link.id, description: 'Before the cut' }]);
    expect(await stack.db('provider_events').count('* as n').first()).toEqual({ n: 0 });

    // The provider retries the callback it was refused, as providers do, until it is taken: a
    // pooled connection that died in a cut fails one request before it is dropped (pool max 10).
    // The payment is applied once.
    let retries = 0;
    await eventually(async () => {
      retries += 1;
      return (await stack.sandboxCallback(callbackBody)).status === 200 ? true : undefined;
    }, 30_000);
    expect(retries).toBeLessThanOrEqual(11);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const payments = await stack.db('payments').where({ link_id: link.id }).count('* as n').first();
    expect(Number(payments?.n)).toBe(1);

    // The worker's pool (behind the same proxy) is back too: a new link is stored by its workflow.
    const after = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'EUR', description: 'After the cut' },
    });
    expect(after.status).toBe(201);
    expect((await stack.request('GET', `/v1/payment_links/${after.body.id}`)).status).toBe(200);
  });
});

describe('the pool after a partition', () => {
  it('never hands out again a connection whose query went unanswered', async () => {
    const target = new URL(inject('postgresUrl'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    target.hostname = '127.0.0.1';
    target.port = String(proxy.port);
    // One connection only: without the discard, the next query would queue behind the dead one.
    const db = createDb(target.toString(), {
      max: 1,
      timeouts: loadConfig({}).databaseTimeouts,
      logger: createLogger('silent'),
    });
    try {
      expect((await db.raw('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await proxy.setMode('blackhole');
      await expect(db.raw('SELECT 2')).rejects.toThrow(/Query read timeout/);
      await proxy.setMode('pass');
      // The black-holed connection stays silent for good: only a fresh one can answer.
      expect((await db.raw('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    } finally {
      await db.destroy();
      await proxy.close();
    }
  });
});
