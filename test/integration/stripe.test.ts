/**
 * Real money through Stripe, against stripe-mock (Stripe's API implemented from its OpenAPI
 * spec, started once by the global setup): per-account provider settings, Pay opening a Checkout
 * Session, Stripe's signed webhooks completing the link, and refunds.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

const SECRET_KEY = 'sk_test_51PaylinksStripeMock0123456789';
const WEBHOOK_SECRET = 'whsec_paylinksTestSigningSecret0123456789';

let stack: Stack;
let receiver: Server;
/** The merchant's webhooks, as its endpoint received them. */
const received: { type: string; data: Record<string, any> }[] = [];

beforeAll(async () => {
  stack = await startStack();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url } })).status).toBe(200);
  const r = await stack.request('PUT', '/v1/payment_provider', {
    json: { provider: 'stripe', secret_key: SECRET_KEY, webhook_secret: WEBHOOK_SECRET },
  });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => receiver?.close(r));
});

const createLink = async (body: Record<string, unknown>, key?: string) => {
  const r = await stack.request('POST', '/v1/payment_links', { json: { currency: 'USD', ...body }, key });
  expect(r.status).toBe(201);
  linkIds.set(new URL(r.body.url).pathname, r.body.id);
  return { ...r.body, path: new URL(r.body.url).pathname } as { id: string; path: string; token: string };
};

/** What stripe-mock logged of the request it received that carries `needle` (its parameters). */
const receivedByStripeMock = (path: string, needle: string) =>
  eventually(
    async () => {
      const lines = readFileSync(inject('stripeMockLog'), 'utf8').split('\n');
      const at = lines.findIndex(
        (line, i) => line.includes(needle) && lines[i - 1]?.startsWith(`Request: POST ${path}`),
      );
      return at > 0 ? `${lines[at - 1]}\n${lines[at]}` : undefined;
    },
    5_000,
    `stripe-mock to log a request to ${path} with ${needle}`,
  );

const linkIds = new Map<string, string>();
const linkIdOf = (path: string) => linkIds.get(path) as string;

/** Pay on the link page: the redirect, and the session it opened. */
async function pay(path: string, fields: Record<string, string> = {}) {
  const res = await stack.postForm(`${path}/pay`, fields);
  expect(res.status).toBe(303);
  const location = res.headers.get('location') as string;
  // stripe-mock answers every Checkout Session with the same URL: the link finds its session.
  const session = await stack
    .db('payment_sessions')
    .where({ link_id: linkIdOf(path) })
    .orderBy('created_at', 'desc')
    .first();
  return { location, session };
}

/** Only its webhook helpers are used: they sign exactly as Stripe does. */
const stripe = new Stripe(SECRET_KEY);
const hex = () => randomBytes(6).toString('hex');

interface CheckoutFacts {
  sessionId: string;
  linkId: string;
  amount: number;
  paymentIntent?: string;
  paymentStatus?: 'paid' | 'unpaid';
  save?: boolean;
  eventId?: string;
}

/** A Checkout Session event as Stripe sends it, for a session Paylinks opened. */
function checkoutEvent(type: string, f: CheckoutFacts) {
  const metadata = {
    paylinks_account_id: stack.account.accountId,
    paylinks_link_id: f.linkId,
    paylinks_session_id: f.sessionId,
    ...(f.save ? { paylinks_save_payment_method: 'true' } : {}),
  };
  return JSON.stringify({
    id: f.eventId ?? `evt_${hex()}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: {
      object: {
        id: `cs_test_${hex()}`,
        object: 'checkout.session',
        mode: 'payment',
        status: type === 'checkout.session.expired' ? 'expired' : 'complete',
        payment_status: f.paymentStatus ?? 'paid',
        amount_total: f.amount,
        currency: 'usd',
        client_reference_id: f.linkId,
        payment_intent: f.paymentIntent ?? `pi_${hex()}`,
        metadata,
      },
    },
  });
}

const sign = (payload: string, opts: { secret?: string; timestamp?: number } = {}) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, ...opts });

const postWebhook = (payload: string, signature: string | undefined, accountId = stack.account.accountId) =>
  fetch(`${stack.baseUrl}/v1/callbacks/stripe/${accountId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
    body: payload,
  });

const linkPayments = async (linkId: string) =>
  (await stack.request('GET', `/v1/payment_links/${linkId}/payments`)).body.data as {
    amount: number;
    provider: string;
    provider_payment_id: string;
  }[];

/** A link with an open Stripe session. */
async function linkWithSession(amount: number, fields: Record<string, string> = {}) {
  const link = await createLink({ amount, customer: { email: 'grace@example.com' } });
  const { session } = await pay(link.path, fields);
  return { link, session: session as { id: string } };
}

describe('payment provider settings', () => {
  it('keeps the sandbox until Stripe keys are set, and never returns a secret', async () => {
    const other = await createAccount(stack.db, 'Sandbox shop', TEST_ACCOUNT_ZONE);
    const before = await stack.request('GET', '/v1/payment_provider', { key: other.apiKey });
    expect(before.body).toMatchObject({ object: 'payment_provider', provider: 'sandbox', webhook_url: null });

    // The account without Stripe settings still pays in the sandbox.
    const link = await createLink({ amount: 700 }, other.apiKey);
    expect((await pay(link.path)).location).toMatch(/^\/sandbox\/checkout\/ps_/);

    const mine = await stack.request('GET', '/v1/payment_provider');
    expect(mine.body).toMatchObject({
      provider: 'stripe',
      secret_key_prefix: 'sk_test_51Pa…',
      webhook_secret_prefix: 'whsec_payl…',
      webhook_url: `https://pay.example.test/v1/callbacks/stripe/${stack.account.accountId}`,
      livemode: false,
    });
    const text = JSON.stringify(mine.body);
    expect(text).not.toContain(SECRET_KEY);
    expect(text).not.toContain(WEBHOOK_SECRET);
    // Sealed at rest, like webhook secrets.
    const row = await stack
      .db('payment_provider_settings')
      .where({ account_id: stack.account.accountId })
      .first();
    expect(JSON.stringify(row)).not.toContain(SECRET_KEY.slice(8));
  });

  it('refuses what is not a Stripe key, naming the field', async () => {
    const bad = await stack.request('PUT', '/v1/payment_provider', {
      json: { provider: 'stripe', secret_key: 'pk_test_123', webhook_secret: WEBHOOK_SECRET },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'secret_key' });
    const missing = await stack.request('PUT', '/v1/payment_provider', {
      json: { provider: 'stripe', secret_key: SECRET_KEY },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe('webhook_secret');
    expect((await stack.request('GET', '/v1/payment_provider')).body.provider).toBe('stripe');
  });
});

describe('Pay through Stripe', () => {
  it('opens a Checkout Session at stripe-mock and redirects to its URL; Pay again resumes it', async () => {
    const link = await createLink({
      amount: 2500,
      description: 'Two tickets',
      line_items: [{ name: 'Ticket', quantity: 2, unit_amount: 1250 }],
      customer: { email: 'ada@example.com' },
    });
    const page = await fetch(`${stack.baseUrl}${link.path}`);
    expect(await page.text()).toContain('name="save_payment_method"');

    const { location, session } = await pay(link.path, { save_payment_method: 'true' });
    expect(location).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    expect(session).toMatchObject({ link_id: link.id, provider: 'stripe', amount: 2500, status: 'open' });
    expect(session.provider_session_id).toMatch(/^cs_test_/);

    const received = await receivedByStripeMock('/v1/checkout/sessions', session.id);
    console.log(`Checkout Session request as stripe-mock received it:\n${received}`);
    for (const part of [
      'mode:payment',
      'customer_email:ada@example.com',
      `client_reference_id:${link.id}`,
      `paylinks_session_id:${session.id}`,
      'setup_future_usage:off_session',
      'price_data:map[currency:usd product_data:map[name:Ticket] unit_amount:1250] quantity:2',
      `cancel_url:https://pay.example.test${link.path}`,
      `success_url:https://pay.example.test${link.path}/thanks?checkout_session={CHECKOUT_SESSION_ID}`,
    ])
      expect(received).toContain(part);
    const expiresAt = Number(/expires_at:(\d+)/.exec(received)?.[1]);
    expect(expiresAt - Date.now() / 1000).toBeGreaterThan(30 * 60);
    expect(expiresAt - Date.now() / 1000).toBeLessThan(32 * 60);

    // Pressing Pay again goes back to the same Checkout Session.
    const again = await pay(link.path);
    expect(again.location).toBe(location);
    expect(again.session.id).toBe(session.id);
    expect(await stack.db('payment_sessions').where({ link_id: link.id })).toHaveLength(1);
  });
});

describe("Stripe's webhooks", () => {
  it('a link paid through Stripe ends paid with the amount of the event; a saved card becomes a payment profile', async () => {
    const { link, session } = await linkWithSession(4200, { save_payment_method: 'true' });
    const payload = checkoutEvent('checkout.session.completed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 4200,
      paymentIntent: 'pi_paidThroughStripe1',
      save: true,
    });
    const signature = sign(payload);
    const res = await postWebhook(payload, signature);
    console.log(
      `A verified webhook:\nPOST /v1/callbacks/stripe/${stack.account.accountId}\nStripe-Signature: ${signature}\n${payload}\n→ ${res.status} ${await res.text()}`,
    );
    expect(res.status).toBe(200);
    const paid = await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    expect(paid.amount_paid).toBe(4200);
    expect(await linkPayments(link.id)).toMatchObject([
      { amount: 4200, provider: 'stripe', provider_payment_id: 'pi_paidThroughStripe1' },
    ]);
    // The card the PaymentIntent used, as stripe-mock answers it.
    const profile = await eventually(
      () =>
        stack
          .db('payment_profiles')
          .where({ account_id: stack.account.accountId, provider: 'stripe' })
          .first(),
      5_000,
      'a payment profile',
    );
    expect(profile.provider_token).toMatch(/^pm_/);
    expect(await stack.db('payment_sessions').where({ id: session.id }).first('status')).toEqual({
      status: 'succeeded',
    });
  });

  it('takes the amount from Stripe, not from the page', async () => {
    const { link, session } = await linkWithSession(5000);
    const payload = checkoutEvent('checkout.session.completed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 3000,
    });
    expect((await postWebhook(payload, sign(payload))).status).toBe(200);
    const partly = await eventually(
      async () => {
        const r = await stack.request('GET', `/v1/payment_links/${link.id}`);
        return r.body.amount_paid === 3000 ? r.body : undefined;
      },
      15_000,
      'the payment of 3000 to be counted',
    );
    expect(partly.status).not.toBe('paid');
  });

  it('answers 400 to every forged or stale webhook, and nothing changes', async () => {
    const { link, session } = await linkWithSession(1500);
    const payload = checkoutEvent('checkout.session.completed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 1500,
    });
    const tampered = payload.replace('"amount_total":1500', '"amount_total":1');
    const cases: [string, string, string | undefined, string][] = [
      ['tampered', tampered, sign(payload), 'signature_mismatch'],
      [
        'stale',
        payload,
        sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
        'signature_stale',
      ],
      [
        'wrong secret',
        payload,
        sign(payload, { secret: 'whsec_notTheAccountsSecret' }),
        'signature_mismatch',
      ],
      ['unsigned', payload, undefined, 'signature_missing'],
      ['malformed', payload, 'garbage', 'signature_malformed'],
    ];
    for (const [name, body, signature, code] of cases) {
      const res = await postWebhook(body, signature);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: unknown }).error, name).toMatchObject({
        type: 'authentication_error',
        code,
      });
    }
    // Signed with this account's secret but posted to another account's endpoint.
    const other = await createAccount(stack.db, 'Other Stripe shop', TEST_ACCOUNT_ZONE);
    await stack.request('PUT', '/v1/payment_provider', {
      key: other.apiKey,
      json: { provider: 'stripe', secret_key: SECRET_KEY, webhook_secret: 'whsec_otherAccountSecret' },
    });
    expect((await postWebhook(payload, sign(payload), other.accountId)).status).toBe(400);
    const forOther = await postWebhook(
      payload,
      sign(payload, { secret: 'whsec_otherAccountSecret' }),
      other.accountId,
    );
    expect(forOther.status).toBe(400);

    expect(
      await stack
        .db('provider_events')
        .where({ provider: 'stripe', account_id: stack.account.accountId })
        .whereRaw('payload::jsonb #>> ? = ?', ['{data,object,metadata,paylinks_session_id}', session.id]),
    ).toEqual([]);
    expect(await linkPayments(link.id)).toEqual([]);
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body).toMatchObject({
      status: 'active',
      amount_paid: 0,
    });
    expect((await stack.db('payment_sessions').where({ id: session.id }).first()).status).toBe('open');
  });

  it('answers 400 naming the field to a signed event with a NUL in its id or session id; nothing stored', async () => {
    const { link, session } = await linkWithSession(1200);
    const cases: [string, string][] = [
      [
        'id',
        checkoutEvent('checkout.session.completed', {
          sessionId: session.id,
          linkId: link.id,
          amount: 1200,
          eventId: 'evt_\u0000',
        }),
      ],
      [
        'data.session_id',
        checkoutEvent('checkout.session.completed', {
          sessionId: `${session.id}\u0000`,
          linkId: link.id,
          amount: 1200,
        }),
      ],
    ];
    const events = async () => (await stack.db('provider_events').count<{ n: string }[]>({ n: '*' }))[0]?.n;
    const before = await events();
    for (const [param, payload] of cases) {
      const res = await postWebhook(payload, sign(payload));
      expect(res.status, param).toBe(400);
      expect(((await res.json()) as { error: unknown }).error, param).toMatchObject({
        code: 'event_invalid',
        param,
      });
    }
    expect(await events()).toBe(before);
    expect((await stack.db('payment_sessions').where({ id: session.id }).first()).status).toBe('open');
  });

  it('makes one payment of a replayed event, however often and however signed', async () => {
    const { link, session } = await linkWithSession(900);
    const payload = checkoutEvent('checkout.session.completed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 900,
    });
    expect((await postWebhook(payload, sign(payload))).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const replays = await Promise.all([
      postWebhook(payload, sign(payload)),
      postWebhook(payload, sign(payload)),
    ]);
    for (const r of replays) expect(await r.json()).toEqual({ received: true, duplicate: true });
    expect(await linkPayments(link.id)).toHaveLength(1);
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body).toMatchObject({
      amount_paid: 900,
      payments_count: 1,
    });
  });

  it('takes async_payment_succeeded before completed: one payment', async () => {
    const { link, session } = await linkWithSession(1200);
    const facts = { sessionId: session.id, linkId: link.id, amount: 1200, paymentIntent: `pi_${hex()}` };
    const succeeded = checkoutEvent('checkout.session.async_payment_succeeded', facts);
    const completedUnpaid = checkoutEvent('checkout.session.completed', {
      ...facts,
      paymentStatus: 'unpaid',
    });
    const completedPaid = checkoutEvent('checkout.session.completed', facts);
    expect((await postWebhook(succeeded, sign(succeeded))).status).toBe(200);
    expect(await (await postWebhook(completedUnpaid, sign(completedUnpaid))).json()).toEqual({
      received: true,
      ignored: true,
    });
    expect((await postWebhook(completedPaid, sign(completedPaid))).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    expect(await linkPayments(link.id)).toMatchObject([
      { amount: 1200, provider_payment_id: facts.paymentIntent },
    ]);
  });

  it('records a failed delayed payment and an expired Checkout Session on the timeline; the link stays open', async () => {
    const { link, session } = await linkWithSession(800);
    const failed = checkoutEvent('checkout.session.async_payment_failed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 800,
      paymentStatus: 'unpaid',
    });
    expect((await postWebhook(failed, sign(failed))).status).toBe(200);
    const events = await eventually(
      async () => {
        const r = await stack.request('GET', `/v1/payment_links/${link.id}/events`);
        const found = r.body.data.find((e: { type: string }) => e.type === 'payment_session.failed');
        return found;
      },
      5_000,
      'payment_session.failed',
    );
    expect(events.data).toMatchObject({ session_id: session.id, reason: 'async_payment_failed' });
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body.status).toBe('active');

    const second = await linkWithSession(800);
    const expired = checkoutEvent('checkout.session.expired', {
      sessionId: second.session.id,
      linkId: second.link.id,
      amount: 800,
      paymentStatus: 'unpaid',
    });
    expect((await postWebhook(expired, sign(expired))).status).toBe(200);
    expect(
      await stack.db('payment_sessions').where({ id: second.session.id }).first('status', 'failure_reason'),
    ).toEqual({
      status: 'failed',
      failure_reason: 'expired',
    });
    expect(await linkPayments(second.link.id)).toEqual([]);
  });
});

describe('refunds', () => {
  const refund = (paymentId: string, json: unknown, key: string, apiKey?: string) =>
    stack.request('POST', `/v1/payments/${paymentId}/refund`, {
      json,
      key: apiKey,
      headers: { 'idempotency-key': key },
    });

  it('refunds a flagged over-payment through Stripe (stripe-mock receives it); the payment and the timeline show it', async () => {
    const { link, session } = await linkWithSession(5000);
    const paymentIntent = `pi_over${hex()}`;
    const payload = checkoutEvent('checkout.session.completed', {
      sessionId: session.id,
      linkId: link.id,
      amount: 6000,
      paymentIntent,
    });
    expect((await postWebhook(payload, sign(payload))).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const [payment] = (await stack.request('GET', `/v1/payment_links/${link.id}/payments`)).body.data;
    expect(payment).toMatchObject({ amount: 6000, refund_review: true, amount_refunded: 0 });
    expect(payment.flags).toContain('overpaid');

    const key = `refund-${hex()}`;
    const first = await refund(payment.id, { amount: 1000 }, key);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      object: 'refund',
      payment: payment.id,
      amount: 1000,
      currency: 'USD',
      status: 'succeeded',
      provider: 'stripe',
    });
    expect(first.body.provider_refund_id).toMatch(/^re_/);
    const atStripe = await receivedByStripeMock('/v1/refunds', first.body.id);
    expect(atStripe).toContain('amount:1000');
    expect(atStripe).toContain(`payment_intent:${paymentIntent}`);

    // The same Idempotency-Key: the same refund, not a second one.
    expect((await refund(payment.id, { amount: 1000 }, key)).body).toEqual(first.body);

    const shown = (await stack.request('GET', `/v1/payments/${payment.id}`)).body;
    expect(shown).toMatchObject({ amount: 6000, amount_refunded: 1000, refund_review: false });
    expect(shown.refunds).toMatchObject([{ id: first.body.id, amount: 1000, status: 'succeeded' }]);
    const timeline = (await stack.request('GET', `/v1/payment_links/${link.id}/events`)).body.data;
    expect(timeline.find((e: { type: string }) => e.type === 'payment.refunded')?.data).toMatchObject({
      refund_id: first.body.id,
      payment_id: payment.id,
      amount: 1000,
    });
    const hook = await eventually(
      async () => received.find((e) => e.type === 'payment.refunded' && e.data.refund?.id === first.body.id),
      15_000,
      'the payment.refunded webhook',
    );
    expect(hook.data).toMatchObject({
      payment_link: { id: link.id },
      payment: { id: payment.id, amount_refunded: 1000 },
    });

    // Never beyond what was paid: 5000 are left.
    const beyond = await refund(payment.id, { amount: 5001 }, `refund-${hex()}`);
    expect(beyond.status).toBe(409);
    expect(beyond.body.error).toMatchObject({ code: 'refund_exceeds_payment', param: 'amount' });
    const rest = await refund(payment.id, {}, `refund-${hex()}`);
    expect(rest.body).toMatchObject({ status: 'succeeded', amount: 5000 });
    expect((await refund(payment.id, { amount: 1 }, `refund-${hex()}`)).status).toBe(409);
    expect((await stack.request('GET', `/v1/payments/${payment.id}`)).body.amount_refunded).toBe(6000);
  });

  it('refunds a sandbox payment in the sandbox; bad input names the field; another account sees a 404', async () => {
    const shop = await createAccount(stack.db, 'Sandbox refunds', TEST_ACCOUNT_ZONE);
    const link = await createLink({ amount: 1500 }, shop.apiKey);
    const { location } = await pay(link.path);
    const done = await stack.postForm(location, { outcome: 'succeed' });
    expect(done.status).toBe(303);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid', shop.apiKey);
    const [payment] = (
      await stack.request('GET', `/v1/payment_links/${link.id}/payments`, { key: shop.apiKey })
    ).body.data;

    const bad = await refund(payment.id, { amount: -5 }, `refund-${hex()}`, shop.apiKey);
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('amount');
    expect((await refund(payment.id, { amount: 500 }, `refund-${hex()}`)).status).toBe(404);

    const ok = await refund(payment.id, { amount: 500 }, `refund-${hex()}`, shop.apiKey);
    expect(ok.body).toMatchObject({ status: 'succeeded', provider: 'sandbox', amount: 500 });
    expect(ok.body.provider_refund_id).toBe(`sbre_${ok.body.id}`);
    expect(
      (await stack.request('GET', `/v1/payments/${payment.id}`, { key: shop.apiKey })).body,
    ).toMatchObject({
      amount_refunded: 500,
      refunds: [{ id: ok.body.id }],
    });
  });
});
