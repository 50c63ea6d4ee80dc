/**
 * The management API over HTTP only (payments arrive as the provider's signal would): every
 * endpoint's happy path, its bad inputs, and tenant isolation.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { paymentReceivedSignal } from '../../workflows/payment-link/contract';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let other: { accountId: string; apiKey: string };
beforeAll(async () => {
  stack = await startStack();
  other = await createAccount(stack.db, 'Someone else', TEST_ACCOUNT_ZONE);
});
afterAll(async () => {
  await stack?.stop();
});

const post = (path: string, json: unknown, key?: string) => stack.request('POST', path, { json, key });
const get = (path: string, key?: string) => stack.request('GET', path, { key });
const pay = (linkId: string, paymentId: string, amount: number, currency = 'USD') =>
  stack.temporal.workflow
    .getHandle(linkId)
    .signal(paymentReceivedSignal, { provider: 'sandbox', paymentId, amount, currency });

describe('GET /v1/payment_links', () => {
  it('lists newest first, filters, and pages with a cursor', async () => {
    const campaign = `cmp_${Date.now()}`;
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const r = await post('/v1/payment_links', {
        amount: 100 + n,
        currency: 'USD',
        campaign_id: campaign,
        reference: `${campaign}-${n}`,
      });
      ids.push(r.body.id);
    }
    const first = await get(`/v1/payment_links?campaign_id=${campaign}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.data.map((l: { id: string }) => l.id)).toEqual([ids[4], ids[3]]);
    expect(first.body.has_more).toBe(true);
    const second = await get(`/v1/payment_links?campaign_id=${campaign}&limit=2&starting_after=${ids[3]}`);
    expect(second.body.data.map((l: { id: string }) => l.id)).toEqual([ids[2], ids[1]]);
    const last = await get(`/v1/payment_links?campaign_id=${campaign}&limit=2&starting_after=${ids[1]}`);
    expect(last.body).toMatchObject({ has_more: false });
    expect(last.body.data.map((l: { id: string }) => l.id)).toEqual([ids[0]]);

    const byReference = await get(`/v1/payment_links?reference=${campaign}-2`);
    expect(byReference.body.data.map((l: { id: string }) => l.id)).toEqual([ids[2]]);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    expect((await get(`/v1/payment_links?campaign_id=${campaign}&created[gte]=${future}`)).body.data).toEqual(
      [],
    );
    expect((await get(`/v1/payment_links?campaign_id=${campaign}&status=active`)).body.data).toHaveLength(5);
    expect((await get(`/v1/payment_links?campaign_id=${campaign}&status=paid`)).body.data).toHaveLength(0);
    // Another account sees none of them.
    expect((await get(`/v1/payment_links?campaign_id=${campaign}`, other.apiKey)).body.data).toEqual([]);
  });

  it('rejects bad pagination and filters, naming the parameter', async () => {
    const cases: [string, string][] = [
      ['starting_after=plink_nope', 'starting_after'],
      ['limit=101', 'limit'],
      ['limit=0', 'limit'],
      ['status=lost', 'status'],
      ['created[gte]=yesterday', 'created[gte]'],
      ['colour=red', 'colour'],
    ];
    for (const [query, param] of cases) {
      const r = await get(`/v1/payment_links?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error.param, query).toBe(param);
    }
    // Another account's link is not a valid cursor either.
    const theirs = await post('/v1/payment_links', { amount: 100, currency: 'USD' }, other.apiKey);
    expect((await get(`/v1/payment_links?starting_after=${theirs.body.id}`)).body.error.param).toBe(
      'starting_after',
    );
  });
});

describe('changing a link', () => {
  it('updates description and metadata, extends the expiry, and refuses an earlier one', async () => {
    const { body: link } = await post('/v1/payment_links', {
      amount: 500,
      currency: 'USD',
      expires_in: 'PT1H',
    });
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const r = await post(`/v1/payment_links/${link.id}`, {
      description: 'Now with tax',
      metadata: { crm: '7' },
      expires_at: later,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ description: 'Now with tax', metadata: { crm: '7' }, expires_at: later });
    const earlier = await post(`/v1/payment_links/${link.id}`, {
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(earlier.status).toBe(400);
    expect(earlier.body.error.param).toBe('expires_at');
    expect((await post(`/v1/payment_links/${link.id}`, {})).status).toBe(400);
    expect((await post(`/v1/payment_links/${link.id}`, { amount: 1 })).body.error).toMatchObject({
      param: 'amount',
      code: 'parameter_unknown',
    });
  });

  it('cancels once (409 after), and reissues a cancelled link with a new token', async () => {
    const { body: link } = await post('/v1/payment_links', {
      amount: 900,
      currency: 'EUR',
      metadata: { order: '9' },
    });
    expect((await post(`/v1/payment_links/${link.id}/reissue`, {})).status).toBe(409); // still open
    const cancelled = await post(`/v1/payment_links/${link.id}/cancel`, { reason: 'customer asked' });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    const again = await post(`/v1/payment_links/${link.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('link_closed');
    expect((await post(`/v1/payment_links/${link.id}`, { description: 'x' })).status).toBe(409);

    const reissued = await post(`/v1/payment_links/${link.id}/reissue`, {});
    expect(reissued.status).toBe(201);
    expect(reissued.body).toMatchObject({
      status: 'active',
      amount: 900,
      currency: 'EUR',
      metadata: { order: '9' },
      reissued_from: link.id,
    });
    expect(reissued.body.id).not.toBe(link.id);
    expect(reissued.body.url).not.toBe(link.url);
    expect(Date.parse(reissued.body.expires_at)).toBeGreaterThan(Date.parse(link.expires_at));
  });

  it('sends again on a channel, and says 422 when the customer cannot be reached on it', async () => {
    const { body: link } = await post('/v1/payment_links', {
      amount: 300,
      currency: 'USD',
      customer: { email: 'notify@example.com' },
      channels: ['email'],
    });
    expect((await post(`/v1/payment_links/${link.id}/notify`, { channel: 'email' })).status).toBe(200);
    const sms = await post(`/v1/payment_links/${link.id}/notify`, { channel: 'sms' });
    expect(sms.status).toBe(422);
    expect(sms.body.error.code).toBe('channel_unavailable');
    expect((await post(`/v1/payment_links/${link.id}/notify`, { channel: 'fax' })).body.error.param).toBe(
      'channel',
    );
  });

  it('lists the payments received through a link', async () => {
    const { body: link } = await post('/v1/payment_links', {
      amount: 1000,
      currency: 'USD',
      accept_partial: true,
    });
    await pay(link.id, 'pi_api_1', 400);
    await pay(link.id, 'pi_api_2', 600);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const payments = await get(`/v1/payment_links/${link.id}/payments`);
    expect(
      payments.body.data.map((p: { provider_payment_id: string; amount: number }) => [
        p.provider_payment_id,
        p.amount,
      ]),
    ).toEqual([
      ['pi_api_1', 400],
      ['pi_api_2', 600],
    ]);
    expect((await get(`/v1/payment_links/${link.id}`)).body).toMatchObject({
      amount_paid: 1000,
      payments_count: 2,
    });
    expect((await get(`/v1/payment_links/${link.id}/payments`, other.apiKey)).status).toBe(404);
  });
});

describe('customers, invoices and orders', () => {
  it('creates, retrieves and lists each, scoped to the account', async () => {
    const customer = await post('/v1/customers', {
      name: 'Grace',
      email: 'grace@example.com',
      phone: '+44 20 7946 0958',
      locale: 'en-GB',
      timezone: 'Europe/London',
    });
    expect(customer.status).toBe(201);
    expect(customer.body).toMatchObject({
      object: 'customer',
      phone: '+442079460958',
      timezone: 'Europe/London',
    });
    const invoice = await post('/v1/invoices', {
      number: `INV-${Date.now()}`,
      customer_id: customer.body.id,
      amount_due: 12_000,
      currency: 'gbp',
      due_date: '2030-01-15',
    });
    expect(invoice.body).toMatchObject({
      object: 'invoice',
      status: 'open',
      currency: 'GBP',
      due_date: '2030-01-15',
      amount_paid: 0,
    });
    const order = await post('/v1/orders', {
      customer_id: customer.body.id,
      amount: 4500,
      currency: 'GBP',
      description: 'Two chairs',
    });
    expect(order.body).toMatchObject({ object: 'order', status: 'open' });

    for (const [path, id] of [
      ['customers', customer.body.id],
      ['invoices', invoice.body.id],
      ['orders', order.body.id],
    ]) {
      expect((await get(`/v1/${path}/${id}`)).body.id).toBe(id);
      expect((await get(`/v1/${path}`)).body.data.map((r: { id: string }) => r.id)).toContain(id);
      const theirs = await get(`/v1/${path}/${id}`, other.apiKey);
      expect(theirs.status).toBe(404);
      expect(JSON.stringify(theirs.body)).not.toContain('Grace');
      expect(
        (await get(`/v1/${path}`, other.apiKey)).body.data.map((r: { id: string }) => r.id),
      ).not.toContain(id);
    }
  });

  it('rejects bad input naming the field, and a duplicate invoice number with 409', async () => {
    const number = `INV-DUP-${Date.now()}`;
    expect(
      (await post('/v1/invoices', { number, amount_due: 100, currency: 'USD', due_date: '2030-01-01' }))
        .status,
    ).toBe(201);
    const dup = await post('/v1/invoices', {
      number,
      amount_due: 100,
      currency: 'USD',
      due_date: '2030-01-01',
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.param).toBe('number');
    const cases: [string, unknown, string][] = [
      [
        '/v1/invoices',
        { number: 'x', amount_due: -1, currency: 'USD', due_date: '2030-01-01' },
        'amount_due',
      ],
      ['/v1/invoices', { number: 'x', amount_due: 1, currency: 'ZZZ', due_date: '2030-01-01' }, 'currency'],
      ['/v1/invoices', { number: 'x', amount_due: 1, currency: 'USD', due_date: '15/01/2030' }, 'due_date'],
      [
        '/v1/invoices',
        { number: 'x', amount_due: 1, currency: 'USD', due_date: '2030-01-01', customer_id: 'cus_nope' },
        'customer_id',
      ],
      ['/v1/customers', { email: 'not-an-email' }, 'email'],
      ['/v1/customers', { phone: '12' }, 'phone'],
      ['/v1/customers', { timezone: 'Mars/Base' }, 'timezone'],
      ['/v1/orders', { amount: 0, currency: 'USD' }, 'amount'],
      ['/v1/orders', { amount: 10, currency: 'USD', extra: true }, 'extra'],
    ];
    for (const [path, body, param] of cases) {
      const r = await post(path, body);
      expect(r.status, `${path} ${param}`).toBe(400);
      expect(r.body.error.param, `${path} ${param}`).toBe(param);
    }
  });

  it('an invoice link collects its open amount, reminds around the due date, and pays the invoice', async () => {
    const { body: customer } = await post('/v1/customers', {
      email: 'ap@example.com',
      timezone: 'America/New_York',
    });
    const due = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const { body: invoice } = await post('/v1/invoices', {
      number: `INV-L-${Date.now()}`,
      customer_id: customer.id,
      amount_due: 5000,
      currency: 'USD',
      due_date: due,
    });
    const link = await post(`/v1/invoices/${invoice.id}/payment_link`, { channels: ['email'] });
    expect(link.status).toBe(201);
    expect(link.body).toMatchObject({
      amount: 5000,
      invoice_id: invoice.id,
      customer_id: customer.id,
      accept_partial: true,
    });
    expect(link.body.customer).toMatchObject({ email: 'ap@example.com', timezone: 'America/New_York' });
    expect(link.body.reminders.after_created).toHaveLength(4); // 3 days before, on the day, 3 and 7 after
    expect(Date.parse(link.body.expires_at)).toBeGreaterThan(
      Date.parse(`${due}T00:00:00Z`) + 13 * 86_400_000,
    );

    await pay(link.body.id, `pi_inv_${invoice.id}_1`, 2000);
    expect(await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'partially_paid')).toMatchObject({
      amount_paid: 2000,
    });
    await pay(link.body.id, `pi_inv_${invoice.id}_2`, 3000);
    expect(await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'paid')).toMatchObject({
      amount_paid: 5000,
    });
    const again = await post(`/v1/invoices/${invoice.id}/payment_link`, {});
    expect(again.status).toBe(422);
    expect((await post(`/v1/invoices/${invoice.id}/payment_link`, {}, other.apiKey)).status).toBe(404);
  });

  it('an order link marks the order paid', async () => {
    const { body: order } = await post('/v1/orders', {
      amount: 2500,
      currency: 'USD',
      description: 'Remote checkout',
    });
    const link = await post(`/v1/orders/${order.id}/payment_link`, {});
    expect(link.body).toMatchObject({ amount: 2500, order_id: order.id, description: 'Remote checkout' });
    await pay(link.body.id, `pi_ord_${order.id}`, 2500);
    await stack.untilStatus(`/v1/orders/${order.id}`, 'paid');
  });

  it('payment profiles are listed per customer, and customer_id is required', async () => {
    expect((await get('/v1/payment_profiles')).body.error.param).toBe('customer_id');
    const { body: customer } = await post('/v1/customers', { email: 'p@example.com' });
    expect((await get(`/v1/payment_profiles?customer_id=${customer.id}`)).body).toEqual({
      object: 'list',
      data: [],
      has_more: false,
    });
  });
});

describe('tenant isolation', () => {
  it('no list, timeline or payment of one account shows another account’s rows', async () => {
    // One row of every listed kind in this account; its webhook deliveries go to its own receiver.
    const receiver = createServer((_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
    const { port } = receiver.address() as AddressInfo;
    try {
      await stack.request('PUT', '/v1/webhook_endpoint', { json: { url: `http://127.0.0.1:${port}/hooks` } });
      const { body: mine } = await post('/v1/customers', { email: 'mine@example.com' });
      const { body: invoice } = await post('/v1/invoices', {
        number: `INV-ISO-${Date.now()}`,
        customer_id: mine.id,
        amount_due: 100,
        currency: 'USD',
        due_date: '2030-01-15',
      });
      const { body: order } = await post('/v1/orders', {
        customer_id: mine.id,
        amount: 100,
        currency: 'USD',
      });
      const { body: link } = await post('/v1/payment_links', {
        amount: 100,
        currency: 'USD',
        customer_id: mine.id,
      });
      await pay(link.id, `pi_iso_${link.id}`, 100);
      await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
      // payment.succeeded and payment_link.paid, both delivered.
      const deliveries = await eventually(
        async () => {
          const { body } = await get('/v1/webhook_deliveries?limit=100');
          const ours = body.data.filter((d: { payment_link: string }) => d.payment_link === link.id);
          return ours.length >= 2 ? ours : undefined;
        },
        WAIT_MS,
        `the webhook deliveries of ${link.id}`,
      );

      for (const path of [
        `/v1/payment_links/${link.id}/events`,
        `/v1/payment_links/${link.id}/payments`,
        `/v1/customers/${mine.id}`,
        `/v1/invoices/${invoice.id}`,
        `/v1/orders/${order.id}`,
      ]) {
        expect((await get(path, other.apiKey)).status, path).toBe(404);
      }
      const ownRows: Record<string, string[]> = {
        payment_links: [link.id],
        customers: [mine.id],
        invoices: [invoice.id],
        orders: [order.id],
        webhook_deliveries: deliveries.map((d: { id: string }) => d.id),
      };
      const listed = async (path: string, key?: string) =>
        (await get(`/v1/${path}?limit=100`, key)).body.data.map((r: { id: string }) => r.id);
      for (const [path, ids] of Object.entries(ownRows)) {
        // Soft: a leak is reported for every list that has one.
        expect.soft(await listed(path), `${path}, own list`).toEqual(expect.arrayContaining(ids));
        const theirs = await listed(path, other.apiKey);
        for (const id of ids) expect.soft(theirs, `${path}, the other account's list`).not.toContain(id);
      }
      expect((await get(`/v1/payment_profiles?customer_id=${mine.id}`, other.apiKey)).body.data).toEqual([]);
      expect((await post(`/v1/payment_links/${link.id}/cancel`, {}, other.apiKey)).status).toBe(404);
      expect(
        (await post('/v1/payment_links', { amount: 1, currency: 'USD', customer_id: mine.id }, other.apiKey))
          .body.error.param,
      ).toBe('customer_id');
    } finally {
      await stack.request('DELETE', '/v1/webhook_endpoint');
      await new Promise((closed) => receiver.close(closed));
    }
  });
});
