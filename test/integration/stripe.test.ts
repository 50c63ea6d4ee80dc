/**
 * Real money through Stripe, against stripe-mock (Stripe's API implemented from its OpenAPI
 * spec, started once by the global setup): per-account provider settings, Pay opening a Checkout
 * Session, Stripe's signed webhooks completing the link, and refunds.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

const SECRET_KEY = 'sk_test_51PaylinksStripeMock0123456789';
const WEBHOOK_SECRET = 'whsec_paylinksTestSigningSecret0123456789';

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

const createLink = async (body: Record<string, unknown>, key?: string) => {
  const r = await stack.request('POST', '/v1/payment_links', { json: { currency: 'USD', ...body }, key });
  expect(r.status).toBe(201);
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

/** Pay on the link page: the redirect, and the session it opened. */
async function pay(path: string, fields: Record<string, string> = {}) {
  const res = await stack.postForm(`${path}/pay`, fields);
  expect(res.status).toBe(303);
  const location = res.headers.get('location') as string;
  const session = await stack.db('payment_sessions').where({ checkout_url: location }).first();
  return { location, session };
}

describe('payment provider settings', () => {
  it('keeps the sandbox until Stripe keys are set, and never returns a secret', async () => {
    const other = await createAccount(stack.db, 'Sandbox shop');
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
  });
});
