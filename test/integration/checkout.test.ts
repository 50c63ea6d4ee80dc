/**
 * The customer's side over HTTP: the link page, "Pay" opening a session, the sandbox's hosted
 * checkout, and its signed callback completing the link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { signPayload } from '../../src/signing';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { SANDBOX_SECRET, type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const form = (path: string, fields: Record<string, string>) => stack.postForm(path, fields);
const linkStatus = (id: string, status: string) => stack.untilStatus(`/v1/payment_links/${id}`, status);

const createLink = async (body: Record<string, unknown>, key?: string) => {
  const r = await stack.request('POST', '/v1/payment_links', { json: { currency: 'USD', ...body }, key });
  expect(r.status).toBe(201);
  return { ...r.body, path: new URL(r.body.url).pathname } as {
    id: string;
    url: string;
    path: string;
    token: string;
  };
};
const html = async (path: string) => {
  const res = await fetch(`${stack.baseUrl}${path}`);
  return { status: res.status, text: await res.text() };
};

/** Pay → checkout → submit: returns the final redirect. */
async function payThroughSandbox(path: string, fields: Record<string, string>, amount?: string) {
  const pay = await form(`${path}/pay`, amount ? { amount } : {});
  expect(pay.status).toBe(303);
  const checkout = pay.headers.get('location') as string;
  expect(checkout).toMatch(/^\/sandbox\/checkout\/ps_/);
  expect((await html(checkout)).status).toBe(200);
  const done = await form(checkout, fields);
  expect(done.status).toBe(303);
  return {
    checkout,
    sessionId: checkout.split('/').at(-1) as string,
    location: done.headers.get('location'),
  };
}

const callback = (body: string, signature: string | undefined) =>
  fetch(`${stack.baseUrl}/v1/callbacks/sandbox`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature ? { 'paylinks-signature': signature } : {}),
    },
    body,
  });

describe('the link page', () => {
  it('shows merchant, description, items, amount, masked email and a Pay button, escaped; records the view', async () => {
    const evil = await createAccount(stack.db, '<script>alert(1)</script> & Co', TEST_ACCOUNT_ZONE);
    const link = await createLink(
      {
        amount: 2500,
        description: 'Two <b>tickets</b>',
        line_items: [{ name: 'Ticket', quantity: 2, unit_amount: 1250 }],
        customer: { email: 'alexandra@example.com', locale: 'en-US', timezone: 'Europe/Paris' },
      },
      evil.apiKey,
    );
    const page = await html(link.path);
    expect(page.status).toBe(200);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('Two &lt;b&gt;tickets&lt;/b&gt;');
    expect(page.text).toContain('Ticket × 2');
    expect(page.text).toContain('$25.00');
    expect(page.text).toContain('a••••••@example.com');
    expect(page.text).not.toContain('alexandra@');
    expect(page.text).toMatch(/<button type="submit">Pay \$25\.00<\/button>/);
    expect(page.text).toContain(`${link.path}/qr.svg`);
    const events = await stack.request('GET', `/v1/payment_links/${link.id}/events`, { key: evil.apiKey });
    expect(events.body.data.map((e: { type: string }) => e.type)).toContain('link.viewed');
    expect((await html('/l/does-not-exist')).status).toBe(404);
  });

  it('has distinct pages for partially paid, paid, expired and cancelled', async () => {
    // A page is kept for up to PAGE_TTL_MS (src/public/link-page-cache.ts) after its link changes
    // in the worker: waited for, not assumed immediate.
    const pageSays = (path: string, text: string) =>
      eventually(async () => ((await html(path)).text.includes(text) ? true : undefined), undefined, text);
    const partial = await createLink({ amount: 1000, accept_partial: true });
    await payThroughSandbox(partial.path, { outcome: 'succeed' }, '4.00');
    await linkStatus(partial.id, 'partially_paid');
    await pageSays(partial.path, 'Partly paid: $4.00 received, $6.00 to go.');
    await payThroughSandbox(partial.path, { outcome: 'succeed' });
    await linkStatus(partial.id, 'paid');
    await pageSays(partial.path, 'Paid. Thank you.');

    const expiring = await createLink({ amount: 100, expires_in: 'PT1S' });
    await linkStatus(expiring.id, 'expired');
    await pageSays(expiring.path, 'This payment link has expired.');

    const cancelled = await createLink({ amount: 100 });
    await stack.request('POST', `/v1/payment_links/${cancelled.id}/cancel`, { json: {} });
    expect((await html(cancelled.path)).text).toContain('was cancelled');
    // And no session can be opened on a closed link.
    expect((await form(`${cancelled.path}/pay`, {})).status).toBe(409);
  });

  it('refuses a partial amount out of range', async () => {
    const link = await createLink({ amount: 1000, accept_partial: true, min_partial_amount: 300 });
    for (const amount of ['100', '1001', '12.5', 'abc'])
      expect((await form(`${link.path}/pay`, { amount })).status).toBe(400);
  });
});

describe('paying in the sandbox', () => {
  it('succeeds, saves the payment method, and goes to the success URL', async () => {
    const customer = await stack.request('POST', '/v1/customers', { json: { email: 'buyer@example.com' } });
    const link = await createLink({
      amount: 4200,
      customer_id: customer.body.id,
      success_url: 'https://shop.example/thanks',
    });
    const { location, sessionId } = await payThroughSandbox(link.path, {
      outcome: 'succeed',
      save_payment_profile: 'true',
    });
    expect(location).toBe('https://shop.example/thanks');
    const paid = await linkStatus(link.id, 'paid');
    expect(paid).toMatchObject({ amount_paid: 4200, payments_count: 1 });
    const profiles = await stack.request('GET', `/v1/payment_profiles?customer_id=${customer.body.id}`);
    expect(profiles.body.data).toMatchObject([
      { customer_id: customer.body.id, provider: 'sandbox', brand: 'visa', last4: '4242' },
    ]);
    expect(await stack.db('payment_sessions').where({ id: sessionId }).first()).toMatchObject({
      status: 'succeeded',
    });
  });

  it('a declined payment is recorded on the session; the link stays open', async () => {
    const link = await createLink({ amount: 700 });
    const { location, sessionId } = await payThroughSandbox(link.path, { outcome: 'decline' });
    expect(location).toBe(link.path);
    expect(await stack.db('payment_sessions').where({ id: sessionId }).first()).toMatchObject({
      status: 'failed',
      failure_reason: 'card_declined',
    });
    const link2 = await stack.request('GET', `/v1/payment_links/${link.id}`);
    expect(link2.body.status).toBe('active');
    const events = await stack.request('GET', `/v1/payment_links/${link.id}/events`);
    expect(events.body.data.map((e: { type: string }) => e.type)).toContain('payment_session.failed');
  });
});

describe('POST /v1/callbacks/sandbox', () => {
  async function openSession(amount = 500) {
    const link = await createLink({ amount });
    const pay = await form(`${link.path}/pay`, {});
    const sessionId = (pay.headers.get('location') as string).split('/').at(-1) as string;
    return { link, sessionId };
  }
  const succeeded = (id: string, sessionId: string, amount = 500) =>
    JSON.stringify({
      id,
      type: 'payment.succeeded',
      data: { session_id: sessionId, payment_id: `pi_${id}`, amount, currency: 'USD' },
    });

  it('accepts a valid signature; the same event twice makes one payment', async () => {
    const { link, sessionId } = await openSession();
    const body = succeeded(`evt_twice_${sessionId}`, sessionId);
    const first = await callback(body, signPayload(SANDBOX_SECRET, body));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true });
    const replay = await callback(body, signPayload(SANDBOX_SECRET, body));
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ received: true, duplicate: true });
    await linkStatus(link.id, 'paid');
    expect(await stack.db('payments').where({ link_id: link.id })).toHaveLength(1);
  });

  it('refuses a tampered body, a wrong secret, a stale timestamp, or no signature; nothing is stored', async () => {
    const { link, sessionId } = await openSession();
    const body = succeeded(`evt_bad_${sessionId}`, sessionId);
    const tampered = body.replace('"amount":500', '"amount":5');
    const cases: [string, string | undefined, string][] = [
      [tampered, signPayload(SANDBOX_SECRET, body), 'signature_mismatch'],
      [body, signPayload('not-the-secret-at-all', body), 'signature_mismatch'],
      [body, signPayload(SANDBOX_SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60), 'signature_stale'],
      [body, 't=1,v1=zz', 'signature_malformed'],
      [body, undefined, 'signature_missing'],
    ];
    for (const [payload, signature, code] of cases) {
      const res = await callback(payload, signature);
      expect(res.status, code).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(await stack.db('provider_events').where({ event_id: `evt_bad_${sessionId}` })).toHaveLength(0);
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body.status).toBe('active');
  });

  it('a payment for a closed workflow is recorded as late and flagged; the link stays expired', async () => {
    const link = await createLink({ amount: 500, expires_in: 'PT2S' });
    const pay = await form(`${link.path}/pay`, {});
    const sessionId = (pay.headers.get('location') as string).split('/').at(-1) as string;
    await linkStatus(link.id, 'expired');
    // The stack's late-payment window is 1 s: wait until the workflow has finished.
    await eventually(async () =>
      (await stack.temporal.workflow.getHandle(link.id).describe()).status.name === 'COMPLETED'
        ? true
        : undefined,
    );
    const body = succeeded(`evt_late_${sessionId}`, sessionId);
    expect((await callback(body, signPayload(SANDBOX_SECRET, body))).status).toBe(200);
    const payments = await stack.request('GET', `/v1/payment_links/${link.id}/payments`);
    expect(payments.body.data).toMatchObject([{ flags: ['late'], refund_review: true, amount: 500 }]);
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body.status).toBe('expired');
  });
});
