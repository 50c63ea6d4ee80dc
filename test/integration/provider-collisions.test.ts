/**
 * One merchant cannot make another's payment vanish (issue 21, case 6), through Stripe's signed
 * webhooks against stripe-mock: payments and provider events are unique per account, so an event
 * merchant B signs with its own secret, carrying merchant A's PaymentIntent id or event id, never
 * turns A's real event into a "duplicate"; the collision is logged at warn with both accounts.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { createLogger } from '../../src/logger';
import { type Stack, startStack } from '../helpers/stack';

const SECRET_KEY = 'sk_test_51PaylinksStripeMock0123456789';
const A_SECRET = 'whsec_merchantAVictimSecret0123456789';
const B_SECRET = 'whsec_merchantBForgerSecret0123456789';

/** What the API logged, one JSON line each. */
const logLines: Record<string, unknown>[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

let stack: Stack;
let b: { accountId: string; apiKey: string };

beforeAll(async () => {
  stack = await startStack({ logger: createLogger('info', 'api', { destination: logSink }) });
  b = await createAccount(stack.db, 'Forger shop');
  for (const [key, webhookSecret] of [
    [stack.account.apiKey, A_SECRET],
    [b.apiKey, B_SECRET],
  ] as const) {
    const r = await stack.request('PUT', '/v1/payment_provider', {
      key,
      json: { provider: 'stripe', secret_key: SECRET_KEY, webhook_secret: webhookSecret },
    });
    expect(r.status).toBe(200);
  }
});
afterAll(async () => {
  await stack?.stop();
});

const stripe = new Stripe(SECRET_KEY);
const hex = () => randomBytes(6).toString('hex');

/** A link of the account with an open Stripe Checkout Session. */
async function linkWithSession(apiKey: string, amount: number) {
  const r = await stack.request('POST', '/v1/payment_links', {
    key: apiKey,
    json: { amount, currency: 'USD', customer: { email: 'pat@example.com' } },
  });
  expect(r.status).toBe(201);
  const pay = await stack.postForm(`${new URL(r.body.url).pathname}/pay`, {});
  expect(pay.status).toBe(303);
  const session = await stack.db('payment_sessions').where({ link_id: r.body.id }).first();
  return { linkId: r.body.id as string, sessionId: session.id as string };
}

function completed(f: {
  accountId: string;
  linkId: string;
  sessionId: string;
  amount: number;
  paymentIntent: string;
  eventId?: string;
}) {
  return JSON.stringify({
    id: f.eventId ?? `evt_${hex()}`,
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
        amount_total: f.amount,
        currency: 'usd',
        client_reference_id: f.linkId,
        payment_intent: f.paymentIntent,
        metadata: {
          paylinks_account_id: f.accountId,
          paylinks_link_id: f.linkId,
          paylinks_session_id: f.sessionId,
        },
      },
    },
  });
}

const post = (accountId: string, secret: string, payload: string) =>
  fetch(`${stack.baseUrl}/v1/callbacks/stripe/${accountId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });

const paymentsOf = async (linkId: string, key: string) =>
  (await stack.request('GET', `/v1/payment_links/${linkId}/payments`, { key })).body.data as {
    provider_payment_id: string;
    amount: number;
  }[];

describe("another merchant's event", () => {
  it("B's forged event with A's PaymentIntent id first: A's real event is still recorded and A's link paid", async () => {
    const victim = await linkWithSession(stack.account.apiKey, 4200);
    const forger = await linkWithSession(b.apiKey, 4200);
    const paymentIntent = `pi_victim${hex()}`;

    const forged = completed({ accountId: b.accountId, ...forger, amount: 4200, paymentIntent });
    expect((await post(b.accountId, B_SECRET, forged)).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${forger.linkId}`, 'paid', b.apiKey);

    const real = completed({ accountId: stack.account.accountId, ...victim, amount: 4200, paymentIntent });
    const res = await post(stack.account.accountId, A_SECRET, real);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    const paid = await stack.untilStatus(`/v1/payment_links/${victim.linkId}`, 'paid');
    expect(paid.amount_paid).toBe(4200);
    expect(await paymentsOf(victim.linkId, stack.account.apiKey)).toMatchObject([
      { provider_payment_id: paymentIntent, amount: 4200 },
    ]);

    // Never silent: the collision is logged with both accounts, and without a secret.
    const warned = logLines.find(
      (l) =>
        l.msg === 'a provider payment id is claimed by two accounts' &&
        l.provider_payment_id === paymentIntent,
    );
    expect(warned).toMatchObject({
      level: 40,
      provider: 'stripe',
      account_id: stack.account.accountId,
      other_account_id: b.accountId,
    });
    const logged = JSON.stringify(logLines);
    for (const secret of [SECRET_KEY, A_SECRET, B_SECRET]) expect(logged).not.toContain(secret);
  });

  it("A's real event first, then B's with the same PaymentIntent id: A's payment and link are untouched", async () => {
    const victim = await linkWithSession(stack.account.apiKey, 3100);
    const forger = await linkWithSession(b.apiKey, 3100);
    const paymentIntent = `pi_victim${hex()}`;
    const real = completed({ accountId: stack.account.accountId, ...victim, amount: 3100, paymentIntent });
    expect((await post(stack.account.accountId, A_SECRET, real)).status).toBe(200);
    await stack.untilStatus(`/v1/payment_links/${victim.linkId}`, 'paid');

    const forged = completed({ accountId: b.accountId, ...forger, amount: 3100, paymentIntent });
    expect((await post(b.accountId, B_SECRET, forged)).status).toBe(200);
    // B's own record, in B's account: it neither replaces nor duplicates A's.
    await stack.untilStatus(`/v1/payment_links/${forger.linkId}`, 'paid', b.apiKey);
    expect(await paymentsOf(victim.linkId, stack.account.apiKey)).toMatchObject([
      { provider_payment_id: paymentIntent, amount: 3100 },
    ]);
    expect(
      await stack
        .db('payments')
        .where({ provider: 'stripe', provider_payment_id: paymentIntent })
        .orderBy('account_id')
        .pluck('account_id'),
    ).toEqual([stack.account.accountId, b.accountId].sort());
    expect(
      logLines.find(
        (l) =>
          l.msg === 'a provider payment id is claimed by two accounts' &&
          l.provider_payment_id === paymentIntent &&
          l.account_id === b.accountId,
      ),
    ).toMatchObject({ level: 40, other_account_id: stack.account.accountId });
  });

  it("B's forged event with A's event id first: A's event is not taken for a redelivery", async () => {
    const victim = await linkWithSession(stack.account.apiKey, 1500);
    const forger = await linkWithSession(b.apiKey, 1500);
    const eventId = `evt_victim${hex()}`;

    const forged = completed({
      accountId: b.accountId,
      ...forger,
      amount: 1500,
      paymentIntent: `pi_forger${hex()}`,
      eventId,
    });
    expect((await post(b.accountId, B_SECRET, forged)).status).toBe(200);

    const paymentIntent = `pi_victim${hex()}`;
    const real = completed({
      accountId: stack.account.accountId,
      ...victim,
      amount: 1500,
      paymentIntent,
      eventId,
    });
    const res = await post(stack.account.accountId, A_SECRET, real);
    expect(await res.json()).toEqual({ received: true });
    await stack.untilStatus(`/v1/payment_links/${victim.linkId}`, 'paid');
    expect(await paymentsOf(victim.linkId, stack.account.apiKey)).toMatchObject([
      { provider_payment_id: paymentIntent },
    ]);
    expect(
      await stack
        .db('provider_events')
        .where({ provider: 'stripe', event_id: eventId })
        .orderBy('account_id')
        .pluck('account_id'),
    ).toEqual([stack.account.accountId, b.accountId].sort());
  });
});
