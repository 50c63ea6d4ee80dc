/**
 * Stripe's own units (issue 21, case 5), against stripe-mock: what Paylinks stores in ISO 4217
 * minor units is sent to Stripe in Stripe's minor units and read back from Stripe's, and a link
 * whose amount Stripe cannot represent is refused at creation, naming the field.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

const SECRET_KEY = 'sk_test_51PaylinksStripeMock0123456789';
const WEBHOOK_SECRET = 'whsec_paylinksUnitsSecret0123456789';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  const r = await stack.request('PUT', '/v1/payment_provider', {
    json: { provider: 'stripe', secret_key: SECRET_KEY, webhook_secret: WEBHOOK_SECRET },
  });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const stripe = new Stripe(SECRET_KEY);
const hex = () => randomBytes(6).toString('hex');

/** What stripe-mock logged of the Checkout Session request that carries `needle`. */
const checkoutRequest = (needle: string) =>
  eventually(
    async () => {
      const lines = readFileSync(inject('stripeMockLog'), 'utf8').split('\n');
      const at = lines.findIndex(
        (line, i) => line.includes(needle) && lines[i - 1]?.startsWith('Request: POST /v1/checkout/sessions'),
      );
      return at > 0 ? lines[at] : undefined;
    },
    5_000,
    `stripe-mock to log a Checkout Session with ${needle}`,
  );

async function linkAndCheckout(amount: number, currency: string) {
  const r = await stack.request('POST', '/v1/payment_links', {
    json: { amount, currency, description: `${currency} test` },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const pay = await stack.postForm(`${new URL(r.body.url).pathname}/pay`, {});
  expect(pay.status).toBe(303);
  const session = await stack.db('payment_sessions').where({ link_id: r.body.id }).first();
  return {
    link: r.body as { id: string },
    session: session as { id: string },
    sent: await checkoutRequest(session.id),
  };
}

/** checkout.session.completed as Stripe sends it, its amount in Stripe's units. */
function completed(linkId: string, sessionId: string, amountTotal: number, currency: string) {
  return JSON.stringify({
    id: `evt_${hex()}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
    data: {
      object: {
        id: `cs_test_${hex()}`,
        object: 'checkout.session',
        mode: 'payment',
        status: 'complete',
        payment_status: 'paid',
        amount_total: amountTotal,
        currency,
        client_reference_id: linkId,
        payment_intent: `pi_${hex()}`,
        metadata: {
          paylinks_account_id: stack.account.accountId,
          paylinks_link_id: linkId,
          paylinks_session_id: sessionId,
        },
      },
    },
  });
}
const postWebhook = (payload: string) =>
  fetch(`${stack.baseUrl}/v1/callbacks/stripe/${stack.account.accountId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
    },
    body: payload,
  });

describe("amounts in Stripe's units", () => {
  it('sends 100.00 MGA as unit_amount 100 (Stripe: zero-decimal) and reads 100 back as 100.00', async () => {
    const { link, session, sent } = await linkAndCheckout(10000, 'MGA');
    console.log(`MGA 100.00 as stripe-mock received it: ${sent}`);
    expect(sent).toContain('currency:mga');
    expect(sent).toMatch(/unit_amount:100\]/);
    expect((await postWebhook(completed(link.id, session.id, 100, 'mga'))).status).toBe(200);
    const paid = await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    expect(paid.amount_paid).toBe(10000);
    const payments = (await stack.request('GET', `/v1/payment_links/${link.id}/payments`)).body.data;
    expect(payments).toMatchObject([{ amount: 10000, currency: 'MGA', flags: [] }]);
  });

  it('sends 5,000 ISK as unit_amount 500000 (Stripe: two decimals, always 00) and reads it back', async () => {
    const { link, session, sent } = await linkAndCheckout(5000, 'ISK');
    console.log(`ISK 5,000 as stripe-mock received it: ${sent}`);
    expect(sent).toContain('currency:isk');
    expect(sent).toMatch(/unit_amount:500000\]/);
    expect((await postWebhook(completed(link.id, session.id, 500000, 'isk'))).status).toBe(200);
    expect((await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid')).amount_paid).toBe(5000);
  });

  it('sends 1.050 KWD as 1050 and JPY and USD unchanged', async () => {
    expect((await linkAndCheckout(1050, 'KWD')).sent).toMatch(/unit_amount:1050\]/);
    expect((await linkAndCheckout(1999, 'JPY')).sent).toMatch(/unit_amount:1999\]/);
    expect((await linkAndCheckout(1999, 'USD')).sent).toMatch(/unit_amount:1999\]/);
  });

  it('a short payment in Stripe units is a short payment in ours: flagged, not paid', async () => {
    const { link, session } = await linkAndCheckout(5000, 'ISK');
    // 50 kr, what Stripe would read 5000 as: the old defect sent it and counted it as 5,000.
    expect((await postWebhook(completed(link.id, session.id, 5000, 'isk'))).status).toBe(200);
    const counted = await eventually(
      async () => {
        const r = await stack.request('GET', `/v1/payment_links/${link.id}`);
        return r.body.amount_paid > 0 ? r.body : undefined;
      },
      undefined,
      'the payment to be counted',
    );
    expect(counted).toMatchObject({ amount_paid: 50, status: 'partially_paid' });
  });
});

describe("refunds in Stripe's units", () => {
  const refund = (paymentId: string, amount: number) =>
    stack.request('POST', `/v1/payments/${paymentId}/refund`, {
      json: { amount },
      headers: { 'idempotency-key': `refund-${hex()}` },
    });
  /** stripe-mock's log line of the refund request carrying `refundId`. */
  const refundRequest = (refundId: string) =>
    eventually(
      async () => {
        const lines = readFileSync(inject('stripeMockLog'), 'utf8').split('\n');
        const at = lines.findIndex(
          (line, i) => line.includes(refundId) && lines[i - 1]?.startsWith('Request: POST /v1/refunds'),
        );
        return at > 0 ? lines[at] : undefined;
      },
      5_000,
      `stripe-mock to log the refund ${refundId}`,
    );

  it('refunds 1,000 ISK as amount 100000; a refund Stripe cannot take is a 400 naming amount', async () => {
    const { link, session } = await linkAndCheckout(5000, 'ISK');
    expect((await postWebhook(completed(link.id, session.id, 500000, 'isk'))).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const [payment] = (await stack.request('GET', `/v1/payment_links/${link.id}/payments`)).body.data;
    const done = await refund(payment.id, 1000);
    expect(done.body).toMatchObject({ status: 'succeeded', amount: 1000, currency: 'ISK' });
    expect(await refundRequest(done.body.id)).toMatch(/amount:100000 /);

    const kwd = await linkAndCheckout(2050, 'KWD');
    expect((await postWebhook(completed(kwd.link.id, kwd.session.id, 2050, 'kwd'))).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${kwd.link.id}`, 'paid');
    const [kwdPayment] = (await stack.request('GET', `/v1/payment_links/${kwd.link.id}/payments`)).body.data;
    const refused = await refund(kwdPayment.id, 1005);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ param: 'amount' });
    expect(refused.body.error.message).toMatch(/multiple of 10/);
    expect(await stack.db('refunds').where({ payment_id: kwdPayment.id })).toEqual([]);
  });
});

describe('amounts Stripe cannot represent', () => {
  it('are refused at link creation with a 400 naming amount or currency; nothing is stored', async () => {
    const count = async () =>
      Number((await stack.db('payment_links').count<{ n: string }[]>({ n: '*' }))[0]?.n);
    const before = await count();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ amount: 1055, currency: 'KWD' }, 'amount', /multiple of 10/],
      [{ amount: 10050, currency: 'MGA' }, 'amount', /whole MGA|multiple of 100/],
      [
        {
          amount: 10050,
          currency: 'MGA',
          line_items: [
            { name: 'A', quantity: 1, unit_amount: 10000 },
            { name: 'B', quantity: 1, unit_amount: 50 },
          ],
        },
        'amount',
        /multiple of 100/,
      ],
      [
        {
          amount: 20000,
          currency: 'MGA',
          line_items: [
            { name: 'A', quantity: 1, unit_amount: 19950 },
            { name: 'B', quantity: 1, unit_amount: 50 },
          ],
        },
        'line_items.0.unit_amount',
        /multiple of 100/,
      ],
      [{ amount: 1000, currency: 'IQD' }, 'currency', /Stripe does not support IQD/],
    ];
    for (const [body, param, message] of cases) {
      const r = await stack.request('POST', '/v1/payment_links', { json: body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toMatchObject({ type: 'invalid_request_error', param });
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    expect(await count()).toBe(before);
  });

  it('are taken by an account on the sandbox, which has no such rule', async () => {
    const shop = await createAccount(stack.db, 'Sandbox KWD shop');
    const r = await stack.request('POST', '/v1/payment_links', {
      key: shop.apiKey,
      json: { amount: 1055, currency: 'KWD' },
    });
    expect(r.status).toBe(201);
  });
});
