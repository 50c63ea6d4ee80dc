/**
 * Money and security edges found in review: each test fails on the code before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const post = (path: string, json: unknown, headers?: Record<string, string>) =>
  stack.request('POST', path, { json, headers });

describe('payments', () => {
  it('the sandbox callback goes to this server, whatever Host header the client sends', async () => {
    const { body: link } = await post('/v1/payment_links', { amount: 300, currency: 'USD' });
    const path = new URL(link.url).pathname;
    const checkout = (await stack.postForm(`${path}/pay`, {})).headers.get('location') as string;
    const done = await stack.postForm(checkout, { outcome: 'succeed' }, { host: '10.0.0.5:6379' });
    expect(done.status).toBe(303);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
  });

  it('a saved card on a multi-use link is not attached to the link’s customer', async () => {
    const { body: customer } = await post('/v1/customers', { email: 'owner@example.com' });
    const { body: link } = await post('/v1/payment_links', {
      amount: 300,
      currency: 'USD',
      max_payments: 5,
      customer_id: customer.id,
    });
    const path = new URL(link.url).pathname;
    const checkout = (await stack.postForm(`${path}/pay`, {})).headers.get('location') as string;
    expect(
      (await stack.postForm(checkout, { outcome: 'succeed', save_payment_profile: 'true' })).status,
    ).toBe(303);
    await eventually(async () =>
      (await stack.request('GET', `/v1/payment_links/${link.id}`)).body.payments_count === 1
        ? true
        : undefined,
    );
    expect((await stack.request('GET', `/v1/payment_profiles?customer_id=${customer.id}`)).body.data).toEqual(
      [],
    );
  });

  it('a callback carrying \\u0000 in a string is stored and applied, not refused forever', async () => {
    const { body: link } = await post('/v1/payment_links', { amount: 300, currency: 'USD' });
    const checkout = (await stack.postForm(`${new URL(link.url).pathname}/pay`, {})).headers.get(
      'location',
    ) as string;
    const sessionId = checkout.split('/').at(-1) as string;
    const body = JSON.stringify({
      id: `evt_nul_${sessionId}`,
      type: 'payment.succeeded',
      data: {
        session_id: sessionId,
        payment_id: `pi_nul_${sessionId}`,
        amount: 300,
        currency: 'USD',
        failure_reason: 'a\u0000b',
      },
    });
    const res = await stack.sandboxCallback(body);
    expect(res.status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
  });

  it('a link in another currency is refused for an order, and a document has one open link at a time', async () => {
    const { body: order } = await post('/v1/orders', { amount: 1_000_000, currency: 'EUR' });
    const cheap = await post('/v1/payment_links', { amount: 1, currency: 'JPY', order_id: order.id });
    expect(cheap.status).toBe(400);
    expect(cheap.body.error).toMatchObject({ param: 'currency' });
    expect((await stack.request('GET', `/v1/orders/${order.id}`)).body.status).toBe('open');

    const first = await post(`/v1/orders/${order.id}/payment_link`, {});
    expect(first.status).toBe(201);
    const second = await post(`/v1/orders/${order.id}/payment_link`, {});
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('document_has_open_link');
  });
});

describe('API edges', () => {
  it('reissue and document links answer 400, not 500, for bad input', async () => {
    const { body: link } = await post('/v1/payment_links', { amount: 100, currency: 'USD' });
    await post(`/v1/payment_links/${link.id}/cancel`, {});
    const reissue = await post(`/v1/payment_links/${link.id}/reissue`, { expires_in: 'abc' });
    expect(reissue.status).toBe(400);
    expect(reissue.body.error.param).toBe('expires_in');
    const { body: invoice } = await post('/v1/invoices', {
      number: `E-${Date.now()}`,
      amount_due: 100,
      currency: 'USD',
      due_date: '2030-01-01',
    });
    const noCustomer = await post(`/v1/invoices/${invoice.id}/payment_link`, { channels: ['email'] });
    expect(noCustomer.status).toBe(400);
    expect(noCustomer.body.error.param).toBe('customer.email');
  });

  it('an idempotent retry of a create with a reference returns the link, not reference_taken', async () => {
    const key = `idem-ref-${Date.now()}`;
    const body = { amount: 100, currency: 'USD', reference: key };
    const first = await post('/v1/payment_links', body, { 'Idempotency-Key': key });
    await stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });
    const retry = await post('/v1/payment_links', body, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
  });

  it('a retry after the link’s workflow has finished still answers with the link', async () => {
    const key = `idem-late-${Date.now()}`;
    const body = { amount: 100, currency: 'USD', expires_in: 'PT1S' };
    const first = await post('/v1/payment_links', body, { 'Idempotency-Key': key });
    await eventually(async () =>
      (await stack.temporal.workflow.getHandle(first.body.id).describe()).status.name === 'COMPLETED'
        ? true
        : undefined,
    );
    await stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });
    const retry = await post('/v1/payment_links', body, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: first.body.id, status: 'expired' });
  });

  it('a refused request frees its Idempotency-Key for the corrected one', async () => {
    const key = `idem-fix-${Date.now()}`;
    const bad = await post(
      '/v1/payment_links',
      { amount: 100, currency: 'USD', customer_id: 'cus_nope' },
      { 'Idempotency-Key': key },
    );
    expect(bad.status).toBe(400);
    const fixed = await post(
      '/v1/payment_links',
      { amount: 100, currency: 'USD' },
      { 'Idempotency-Key': key },
    );
    expect(fixed.status).toBe(201);
  });
});
