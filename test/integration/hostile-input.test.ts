/**
 * Hostile input never gives a 500 and never breaks a link (issue 15): a lone surrogate, a NUL or a
 * date Postgres cannot hold is refused at the edge with the field named (or, in a path, answered
 * like an unknown id), nothing is stored and no workflow starts; a link that was sent one keeps
 * working. Real API, worker, Temporal and Postgres.
 */
import express from 'express';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, errorHandler } from '../../src/api/errors';
import { createLogger } from '../../src/logger';
import { PUBLIC_BASE_URL, type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

const LONE = '\ud800';
const NUL = '\u0000';

let stack: Stack;
let link: { id: string; url: string };
let token: string;
let customerId: string;
let invoiceId: string;
let orderId: string;
let sessionId: string;

const post = (path: string, json: unknown) => stack.request('POST', path, { json });
const get = (path: string) => stack.request('GET', path);

const TABLES = [
  'payment_links',
  'customers',
  'invoices',
  'orders',
  'payment_sessions',
  'payments',
  'provider_events',
  'link_events',
  'idempotency_keys',
] as const;

/** Row counts of every table a refused request could have written to, and the webhook URL. */
async function stored() {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await stack.db(table).count<{ count: string }[]>({ count: '*' });
    counts[table] = Number(row?.count);
  }
  const account = await stack.db('accounts').where({ id: stack.account.accountId }).first('webhook_url');
  return { ...counts, webhook_url: account?.webhook_url ?? null };
}

/** The request is refused with `status` and nothing at all is stored. */
async function refusedStoringNothing<T>(send: () => Promise<T>): Promise<T> {
  const before = await stored();
  const answer = await send();
  expect(await stored()).toEqual(before);
  return answer;
}

const linkWorkflows = async (extra = '') =>
  (
    await stack.temporal.workflow.count(
      `TaskQueue = '${stack.taskQueue}' AND WorkflowType = 'paymentLinkWorkflow'${extra}`,
    )
  ).count;

beforeAll(async () => {
  stack = await startStack();
  ({ body: link } = await post('/v1/payment_links', { amount: 500, currency: 'USD' }));
  token = new URL(link.url).pathname.split('/').at(-1) as string;
  ({
    body: { id: customerId },
  } = await post('/v1/customers', { name: 'Ada' }));
  ({
    body: { id: invoiceId },
  } = await post('/v1/invoices', {
    number: 'INV-1',
    amount_due: 100,
    currency: 'USD',
    due_date: '2030-01-01',
  }));
  ({
    body: { id: orderId },
  } = await post('/v1/orders', { amount: 100, currency: 'USD' }));
  const pay = await stack.postForm(`/l/${token}/pay`, {});
  sessionId = (pay.headers.get('location') as string).split('/').at(-1) as string;
});
afterAll(async () => {
  await stack?.stop();
});

describe('a lone surrogate', () => {
  it('in an update’s metadata is a 400, and the link keeps working', async () => {
    const { body: open } = await post('/v1/payment_links', { amount: 700, currency: 'USD' });
    for (const metadata of [{ [LONE]: 'x' }, { note: LONE }, { note: `a${LONE}b` }]) {
      const res = await refusedStoringNothing(() => post(`/v1/payment_links/${open.id}`, { metadata }));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid' });
      expect(res.body.error.param).toMatch(/^metadata/);
    }
    const handle = stack.temporal.workflow.getHandle(open.id);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const updated = await post(`/v1/payment_links/${open.id}`, { metadata: { note: 'fine' } });
    expect(updated.status).toBe(200);
    expect(updated.body.metadata).toEqual({ note: 'fine' });
    const cancelled = await post(`/v1/payment_links/${open.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));
  });

  it.each([
    ['metadata', { metadata: { [LONE]: 'x' } }],
    ['metadata.note', { metadata: { note: LONE } }],
    ['customer.name', { customer: { name: `Ada ${LONE}` } }],
    ['line_items.0.name', { line_items: [{ name: LONE, quantity: 1, unit_amount: 500 }] }],
    ['description', { description: `${LONE}` }],
    ['reference', { reference: `r${LONE}` }],
  ])('at creation, in %s, is a 400 naming the field; no row, no workflow', async (param, fields) => {
    const res = await refusedStoringNothing(() =>
      post('/v1/payment_links', { amount: 500, currency: 'USD', ...fields }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.param).toMatch(new RegExp(`^${param.replaceAll('.', '\\.')}`));
  });

  it.each([
    ['/v1/customers', { name: LONE }, 'name'],
    ['/v1/customers', { metadata: { k: LONE } }, 'metadata.k'],
    ['/v1/orders', { amount: 1, currency: 'USD', description: LONE }, 'description'],
    ['/v1/orders', { amount: 1, currency: 'USD', metadata: { [LONE]: 'v' } }, 'metadata'],
    ['/v1/invoices', { number: LONE, amount_due: 1, currency: 'USD', due_date: '2030-01-01' }, 'number'],
  ])('on POST %s (%j) is a 400 naming %s, nothing stored', async (path, body, param) => {
    const res = await refusedStoringNothing(() => post(path, body));
    expect(res.status).toBe(400);
    expect(res.body.error.param).toMatch(new RegExp(`^${param.replaceAll('.', '\\.')}`));
  });
});

describe('a NUL byte in a path id is answered like an unknown id', () => {
  const api = () => [
    ['GET', `/v1/payment_links/${link.id}%00`, 'payment link', `${link.id}${NUL}`],
    ['POST', `/v1/payment_links/${link.id}%00`, 'payment link', `${link.id}${NUL}`],
    ['POST', `/v1/payment_links/${link.id}%00/cancel`, 'payment link', `${link.id}${NUL}`],
    ['POST', `/v1/payment_links/${link.id}%00/reissue`, 'payment link', `${link.id}${NUL}`],
    ['POST', `/v1/payment_links/${link.id}%00/notify`, 'payment link', `${link.id}${NUL}`],
    ['GET', `/v1/payment_links/${link.id}%00/events`, 'payment link', `${link.id}${NUL}`],
    ['GET', `/v1/payment_links/${link.id}%00/payments`, 'payment link', `${link.id}${NUL}`],
    ['GET', `/v1/payment_links/%00`, 'payment link', NUL],
    ['GET', `/v1/customers/${customerId}%00`, 'customer', `${customerId}${NUL}`],
    ['GET', `/v1/invoices/${invoiceId}%00`, 'invoice', `${invoiceId}${NUL}`],
    ['POST', `/v1/invoices/${invoiceId}%00/payment_link`, 'invoice', `${invoiceId}${NUL}`],
    ['GET', `/v1/orders/${orderId}%00`, 'order', `${orderId}${NUL}`],
    ['POST', `/v1/orders/${orderId}%00/payment_link`, 'order', `${orderId}${NUL}`],
    ['GET', '/v1/payments/pay_%00', 'payment', `pay_${NUL}`],
    ['POST', '/v1/payments/pay_%00/refund', 'payment', `pay_${NUL}`],
    ['GET', `/l/${token}%00/qr.png`, 'payment link', `${token}${NUL}`],
    ['GET', `/l/${token}%00/qr.svg`, 'payment link', `${token}${NUL}`],
    ['POST', '/v1/callbacks/stripe/acct_%00', 'Stripe webhook endpoint', `acct_${NUL}`],
  ];

  it('on the JSON API: 404 resource_missing with the body an unknown id gets; nothing stored', async () => {
    for (const [method, path, what, id] of api() as [string, string, string, string][]) {
      const res = await refusedStoringNothing(() =>
        stack.request(method, path, method === 'POST' ? { json: {} } : {}),
      );
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body).toEqual(ApiError.notFound(what, id).toJSON());
    }
    // An unknown id of the right shape gets the same answer.
    const unknown = await get('/v1/customers/cus_unknown');
    expect(unknown.body).toEqual(ApiError.notFound('customer', 'cus_unknown').toJSON());
  });

  it('on the customers’ pages: the same 404 page an unknown token gets', async () => {
    const page = async (method: string, path: string) => {
      const res = await fetch(`${stack.baseUrl}${path}`, {
        method,
        redirect: 'manual',
        ...(method === 'POST'
          ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'amount=1' }
          : {}),
      });
      return { status: res.status, html: await res.text() };
    };
    const pairs: [string, string, string][] = [
      ['GET', `/l/${token}%00`, '/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['POST', `/l/${token}%00/pay`, '/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/pay'],
      ['GET', `/l/${token}%00/thanks`, '/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/thanks'],
      ['GET', `/sandbox/checkout/${sessionId}%00`, '/sandbox/checkout/ps_unknown'],
      ['POST', `/sandbox/checkout/${sessionId}%00`, '/sandbox/checkout/ps_unknown'],
      ['GET', '/u/%00', '/u/AAAAAAAAAAAAAAAAAAAAAAAA'],
      ['POST', '/u/%00', '/u/AAAAAAAAAAAAAAAAAAAAAAAA'],
    ];
    for (const [method, hostile, unknown] of pairs) {
      const refused = await refusedStoringNothing(() => page(method, hostile));
      expect({ hostile, status: refused.status }).toEqual({ hostile, status: 404 });
      expect(refused.html).toBe((await page(method, unknown)).html);
    }
    // The real session was not claimed by any of it.
    expect((await stack.db('payment_sessions').where({ id: sessionId }).first()).status).toBe('open');
  });
});

describe('a NUL byte in a query filter is a 400 naming it', () => {
  it.each([
    [`/v1/payment_links?customer_id=cus_%00`, 'customer_id'],
    [`/v1/payment_links?customer_id=%00`, 'customer_id'],
    [`/v1/payment_links?reference=a%00b`, 'reference'],
    [`/v1/payment_links?campaign_id=%00`, 'campaign_id'],
    [`/v1/payment_links?invoice_id=inv_%00`, 'invoice_id'],
    [`/v1/payment_links?starting_after=plink_%00`, 'starting_after'],
    [`/v1/customers?starting_after=%00`, 'starting_after'],
    [`/v1/invoices?starting_after=inv_%00`, 'starting_after'],
    [`/v1/orders?starting_after=%00`, 'starting_after'],
    [`/v1/payment_profiles?customer_id=cus_%00`, 'customer_id'],
    [`/v1/webhook_deliveries?event_id=evt_%00`, 'event_id'],
    [`/v1/payment_links?created[gte]=0000-01-01T00:00:00Z`, 'created[gte]'],
  ])('%s', async (path, param) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
  });
});

describe('a NUL byte or an impossible date in a body field is a 400 naming it; nothing stored', () => {
  it.each([
    ['/v1/orders', { amount: 1, currency: 'USD', description: `a${NUL}b` }, 'description'],
    ['/v1/orders', { amount: 1, currency: 'USD', customer_id: `cus_${NUL}` }, 'customer_id'],
    [
      '/v1/invoices',
      { number: `INV${NUL}`, amount_due: 1, currency: 'USD', due_date: '2030-01-01' },
      'number',
    ],
    [
      '/v1/invoices',
      { number: 'INV-2', amount_due: 1, currency: 'USD', due_date: '2030-01-01', customer_id: NUL },
      'customer_id',
    ],
    ['/v1/invoices', { number: 'INV-3', amount_due: 1, currency: 'USD', due_date: '0000-01-01' }, 'due_date'],
    ['/v1/invoices', { number: 'INV-4', amount_due: 1, currency: 'USD', due_date: '2030-02-30' }, 'due_date'],
    ['/v1/payment_links', { amount: 1, currency: 'USD', customer_id: `cus_x${NUL}` }, 'customer_id'],
    ['/v1/payment_links', { amount: 1, currency: 'USD', invoice_id: `inv_${NUL}` }, 'invoice_id'],
    ['/v1/payment_links', { amount: 1, currency: 'USD', campaign_id: `c${NUL}` }, 'campaign_id'],
    [
      '/v1/payment_links',
      { amount: 1, currency: 'USD', success_url: `https://a.test/${NUL}` },
      'success_url',
    ],
    ['/v1/payment_links', { amount: 1, currency: 'USD', expires_at: '0000-01-01T00:00:00Z' }, 'expires_at'],
    ['/v1/customers', { email: `a${NUL}@example.com` }, 'email'],
  ])('POST %s %j', async (path, body, param) => {
    const res = await refusedStoringNothing(() => post(path, body));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('PUT /v1/webhook_endpoint with a NUL in the url', async () => {
    const res = await refusedStoringNothing(() =>
      stack.request('PUT', '/v1/webhook_endpoint', { json: { url: `https://hooks.example.com/${NUL}` } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('url');
  });

  it('a cancel reason or an update’s description with a NUL leaves the link as it was', async () => {
    for (const [path, body, param] of [
      [`/v1/payment_links/${link.id}/cancel`, { reason: `no${NUL}` }, 'reason'],
      [`/v1/payment_links/${link.id}`, { description: NUL }, 'description'],
    ] as const) {
      const res = await refusedStoringNothing(() => post(path, body));
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    expect((await get(`/v1/payment_links/${link.id}`)).body.status).toBe('active');
  });
});

describe('a signed callback with a NUL in an id', () => {
  const event = (id: string, session: string) =>
    JSON.stringify({
      id,
      type: 'payment.succeeded',
      data: { session_id: session, payment_id: `pi_${id}`, amount: 500, currency: 'USD' },
    });

  it.each([
    ['data.session_id', () => event('evt_nul_session', `${sessionId}${NUL}`)],
    ['data.session_id', () => event('evt_nul_session_2', `ps_${NUL}`)],
    ['id', () => event(`evt_${NUL}`, sessionId)],
  ])('in %s is a 400, nothing stored, the session still open', async (param, body) => {
    const res = await refusedStoringNothing(() => stack.sandboxCallback(body()));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    expect((await stack.db('payment_sessions').where({ id: sessionId }).first()).status).toBe('open');
  });

  it.each([
    ['MessageSid', { MessageSid: `SM${NUL}`, MessageStatus: 'delivered' }],
    ['MessageStatus', { MessageSid: 'SM0123', MessageStatus: `delivered${NUL}` }],
    ['ErrorCode', { MessageSid: 'SM0123', MessageStatus: 'failed', ErrorCode: `3${NUL}` }],
  ])('twilio’s signed status report with a NUL in %s is a 400 naming it', async (param, params) => {
    const url = `${PUBLIC_BASE_URL}/v1/callbacks/twilio/status`;
    const signature = twilio.getExpectedTwilioSignature(stack.twilioAuthToken as string, url, params);
    const res = await refusedStoringNothing(() =>
      fetch(`${stack.baseUrl}/v1/callbacks/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
  });

  it('a provider name that is not one (__proto__) is a 404', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/callbacks/__proto__`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
  });
});

describe('what still slips through', () => {
  it('a Postgres data error (class 22) is a 400 without the SQL, not a 500', async () => {
    // A route that sends Postgres what the schemas would have refused, behind the API's handler.
    const app = express();
    const failures: Record<string, () => Promise<unknown>> = {
      nul: () => stack.db.raw('SELECT ?::text AS t', [`a${NUL}b`]),
      date: () => stack.db.raw(`SELECT '0000-01-01'::date AS d`),
      jsonb: () => stack.db.raw('SELECT ?::jsonb AS j', [JSON.stringify({ k: LONE })]),
      division: () => stack.db.raw('SELECT 1 / 0 AS n'),
    };
    app.get('/:kind', async (req) => {
      await failures[req.params.kind]?.();
    });
    app.use(errorHandler(createLogger('silent')));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((ready) => server.once('listening', ready));
    try {
      const { port } = server.address() as { port: number };
      for (const kind of Object.keys(failures)) {
        const res = await fetch(`http://127.0.0.1:${port}/${kind}`);
        const text = await res.text();
        expect({ kind, status: res.status }).toEqual({ kind, status: 400 });
        expect(JSON.parse(text).error).toMatchObject({
          type: 'invalid_request_error',
          code: 'value_invalid',
        });
        expect(text).not.toMatch(/select|::/i);
      }
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});

describe('afterwards', () => {
  it('no refused request started a workflow, and none failed', async () => {
    const links = Number(
      (await stack.db('payment_links').count<{ count: string }[]>({ count: '*' }))[0]?.count,
    );
    // Visibility is eventually consistent: wait until it has seen every link, then compare.
    await eventually(async () => ((await linkWorkflows()) >= links ? true : undefined));
    expect(await linkWorkflows()).toBe(links);
    expect(await linkWorkflows(" AND ExecutionStatus = 'Failed'")).toBe(0);
  });
});
