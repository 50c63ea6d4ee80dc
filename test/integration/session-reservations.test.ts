/**
 * Money is taken once, only while a link is open (issue 21, cases 1, 2, 3 and the concurrent
 * partial Pays of case 9), over HTTP on the real stack as a customer uses it: Pay on the link
 * page, the sandbox's hosted checkout, its signed callback. A session is a reservation held by
 * Postgres: what a customer may still pay counts what is recorded, what is captured but not yet
 * recorded and what live sessions hold. Closing a link closes its sessions in the same
 * transaction; a payment that still arrives is recorded, flagged and put up for refund review,
 * or refunded at once when the account asks for it.
 *
 * "Captured but not yet recorded" is held open deterministically by stopping the worker: the
 * callback's signal reaches Temporal, and nothing records it until the worker is back (the
 * window the issue measured at ~190 ms is unbounded while a worker lags or is down).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { formatAmount } from '../../src/money/format';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const createLink = async (body: Record<string, unknown>, key?: string) => {
  const r = await stack.request('POST', '/v1/payment_links', { json: { currency: 'USD', ...body }, key });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id as string, path: new URL(r.body.url).pathname };
};
const html = async (path: string) => {
  const res = await fetch(`${stack.baseUrl}${path}`);
  return { status: res.status, text: await res.text() };
};
/** Pay pressed on the link page (the amount typed, on a link that takes part payments). */
const pay = async (path: string, amount?: string) => {
  const res = await stack.postForm(`${path}/pay`, amount === undefined ? {} : { amount });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
};
/** The sandbox checkout submitted: the customer pays. */
const submit = (checkout: string) => stack.postForm(checkout, { outcome: 'succeed' });
const sessionOf = (checkout: string | null) => (checkout ?? '').split('/').at(-1) as string;
const session = (id: string) => stack.db('payment_sessions').where({ id }).first();
const sessions = (linkId: string) =>
  stack.db('payment_sessions').where({ link_id: linkId }).orderBy('created_at');
const payments = (linkId: string) => stack.db('payments').where({ link_id: linkId }).orderBy('created_at');
const usd = (minor: number) => formatAmount(minor, 'USD', 'en');

/** The provider captures through a session anyway (a checkout page left open, a bank debit). */
const providerCaptures = async (sessionId: string, amount: number) => {
  const body = JSON.stringify({
    id: `evt_late_${sessionId}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `pi_late_${sessionId}`, amount, currency: 'USD' },
  });
  const res = await stack.sandboxCallback(body);
  expect(res.status).toBe(200);
};

/** Every checkout submitted so far has been captured and recorded: the link's payments. */
const untilCapturesRecorded = (linkId: string) =>
  eventually(
    async () => {
      const all = await sessions(linkId);
      const captured = all.filter((s) => s.status === 'succeeded').length;
      const rows = await payments(linkId);
      return all.every((s) => s.status !== 'processing') && rows.length >= captured ? rows : undefined;
    },
    WAIT_MS,
    `the captures of ${linkId} to be recorded`,
  );

/** With the worker stopped while `work` runs: a capture is signalled and stays unrecorded. */
async function whileWorkerIsDown<T>(work: () => Promise<T>): Promise<T> {
  await stack.stopWorker();
  try {
    return await work();
  } finally {
    await stack.startWorker();
  }
}

describe('case 1: a single-use link is paid once', () => {
  it('Pay again after the capture, before it is recorded, opens no second session', async () => {
    const link = await createLink({ amount: 5000 });
    const first = await pay(link.path);
    expect(first.status).toBe(303);
    const again = await whileWorkerIsDown(async () => {
      expect((await submit(first.location as string)).status).toBe(303);
      expect(await session(sessionOf(first.location))).toMatchObject({ status: 'succeeded' });
      // A double submit, a second tab: Pay again at once.
      const second = await pay(link.path);
      // Where a checkout opened, the customer pays it too.
      if (second.status === 303) await submit(second.location as string);
      return second;
    });
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const taken = await untilCapturesRecorded(link.id);
    expect(taken.map((p) => ({ amount: p.amount, flags: p.flags }))).toEqual([{ amount: 5000, flags: [] }]);
    expect(await sessions(link.id)).toHaveLength(1);
    expect(again.status).toBe(409);
    expect(again.text).toContain('being confirmed');
  });

  it('partial: 40.00 of 100.00 captured, then 100.00 at once is refused naming the 60.00 allowed', async () => {
    const link = await createLink({ amount: 10000, accept_partial: true });
    const first = await pay(link.path, '40.00');
    expect(first.status).toBe(303);
    const again = await whileWorkerIsDown(async () => {
      expect((await submit(first.location as string)).status).toBe(303);
      const second = await pay(link.path, '100.00');
      if (second.status === 303) await submit(second.location as string);
      return second;
    });
    await untilCapturesRecorded(link.id);
    const row = (await stack.request('GET', `/v1/payment_links/${link.id}`)).body;
    expect(row).toMatchObject({ status: 'partially_paid', amount_paid: 4000 });
    expect((await payments(link.id)).map((p) => p.amount)).toEqual([4000]);
    expect(again.status).toBe(409);
    expect(again.text).toContain(usd(6000));
    // What is left is still payable, once recorded.
    const rest = await pay(link.path, '60.00');
    expect(rest.status).toBe(303);
    expect(await session(sessionOf(rest.location))).toMatchObject({ amount: 6000, status: 'open' });
  });
});

describe('case 2: a closed link takes no money', () => {
  it('cancel: the checkout opened before is refused with 410 and nothing is captured', async () => {
    const link = await createLink({ amount: 2500 });
    const checkout = (await pay(link.path)).location as string;
    expect((await html(checkout)).status).toBe(200);
    expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(
      200,
    );
    const submitted = await submit(checkout);
    expect(submitted.status).toBe(410);
    expect((await html(checkout)).status).toBe(410);
    expect(await session(sessionOf(checkout))).toMatchObject({ status: 'voided' });
    // Refused before any callback: no provider event, no payment.
    expect(
      await stack
        .db('provider_events')
        .where({ account_id: stack.account.accountId })
        .whereRaw("payload::jsonb -> 'data' ->> 'session_id' = ?", [sessionOf(checkout)]),
    ).toHaveLength(0);
    expect(await payments(link.id)).toHaveLength(0);
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body).toMatchObject({
      status: 'cancelled',
      amount_paid: 0,
    });
  });

  it('expire: the checkout opened before is refused with 410 and nothing is captured', async () => {
    const link = await createLink({ amount: 2500, expires_at: new Date(Date.now() + 6000).toISOString() });
    const checkout = (await pay(link.path)).location as string;
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'expired');
    expect((await submit(checkout)).status).toBe(410);
    expect(await session(sessionOf(checkout))).toMatchObject({ status: 'voided' });
    expect(await payments(link.id)).toHaveLength(0);
  });

  it('a capture that still arrives is recorded, flagged late and put up for refund review', async () => {
    const link = await createLink({ amount: 1800 });
    const checkout = (await pay(link.path)).location as string;
    expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(
      200,
    );
    await providerCaptures(sessionOf(checkout), 1800);
    const [late] = await eventually(
      async () => {
        const rows = await payments(link.id);
        return rows.length > 0 ? rows : undefined;
      },
      WAIT_MS,
      'the late payment to be recorded',
    );
    const shown = await stack.request('GET', `/v1/payments/${late.id}`);
    expect(shown.body).toMatchObject({ amount: 1800, amount_refunded: 0, refund_review: true, refunds: [] });
    expect(shown.body.flags).toContain('late');
    const timeline = (await stack.request('GET', `/v1/payment_links/${link.id}/events`)).body.data;
    expect(timeline.find((e: { type: string }) => e.type === 'payment.flagged')?.data).toMatchObject({
      refund_review: true,
    });
    expect((await stack.request('GET', `/v1/payment_links/${link.id}`)).body).toMatchObject({
      status: 'cancelled',
      amount_paid: 0,
    });
  });

  it('with auto_refund_late_payments on, such a capture is refunded through the refund path', async () => {
    const set = await stack.request('PATCH', '/v1/account', { json: { auto_refund_late_payments: true } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ object: 'account', auto_refund_late_payments: true });
    expect((await stack.request('GET', '/v1/account')).body.auto_refund_late_payments).toBe(true);
    const refused = await stack.request('PATCH', '/v1/account', {
      json: { auto_refund_late_payments: 'yes' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ param: 'auto_refund_late_payments' });
    try {
      const link = await createLink({ amount: 1900 });
      const checkout = (await pay(link.path)).location as string;
      expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(
        200,
      );
      await providerCaptures(sessionOf(checkout), 1900);
      const refunded = await eventually(
        async () => {
          const [row] = await payments(link.id);
          if (!row) return undefined;
          const shown = (await stack.request('GET', `/v1/payments/${row.id}`)).body;
          return shown.amount_refunded === 1900 ? shown : undefined;
        },
        WAIT_MS,
        'the late payment to be refunded',
      );
      expect(refunded).toMatchObject({
        refund_review: false,
        refunds: [{ amount: 1900, status: 'succeeded' }],
      });
      expect(refunded.flags).toContain('late');
      const timeline = (await stack.request('GET', `/v1/payment_links/${link.id}/events`)).body.data;
      expect(timeline.map((e: { type: string }) => e.type)).toContain('payment.refunded');
    } finally {
      await stack.request('PATCH', '/v1/account', { json: { auto_refund_late_payments: false } });
    }
  });
});

describe('case 3: a usage limit holds', () => {
  it('max_payments 2, five checkouts at once: two open, three refused, two captures', async () => {
    const link = await createLink({ amount: 700, max_payments: 2 });
    const pays = await Promise.all(Array.from({ length: 5 }, () => pay(link.path)));
    const checkouts = pays.filter((p) => p.status === 303).map((p) => p.location as string);
    const submits = await Promise.all(checkouts.map(submit));
    const captured = submits.filter((s) => s.status === 303).length;
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'completed');
    const taken = await eventually(
      async () => {
        const rows = await payments(link.id);
        return rows.length >= captured ? rows : undefined;
      },
      WAIT_MS,
      `${captured} captures to be recorded`,
    );
    expect(taken.map((p) => p.flags)).toEqual([[], []]);
    expect(pays.map((p) => p.status).sort()).toEqual([303, 303, 409, 409, 409]);
    for (const refused of pays.filter((p) => p.status === 409))
      expect(refused.text).toContain('no uses left');
    expect(await sessions(link.id)).toHaveLength(2);
  });
});

describe('an unlimited link', () => {
  it('opens a session per payer, each on the timeline, and its close voids them all', async () => {
    const link = await createLink({ amount: 300, max_payments: null });
    const pays = await Promise.all(Array.from({ length: 3 }, () => pay(link.path)));
    expect(pays.map((p) => p.status)).toEqual([303, 303, 303]);
    const timeline = (await stack.request('GET', `/v1/payment_links/${link.id}/events`)).body.data;
    expect(timeline.filter((e: { type: string }) => e.type === 'payment_session.started')).toHaveLength(3);
    expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(
      200,
    );
    expect((await sessions(link.id)).map((s) => s.status)).toEqual(['voided', 'voided', 'voided']);
    for (const p of pays) expect((await submit(p.location as string)).status).toBe(410);
  });
});

describe('case 9: concurrent Pays never fail', () => {
  it('ten concurrent partial Pays on one link: each a checkout or a clear refusal, never a 500', async () => {
    const link = await createLink({ amount: 100000, accept_partial: true });
    const amounts = Array.from({ length: 10 }, (_, i) => `${i + 1}.00`);
    const answers = await Promise.all(amounts.map((amount) => pay(link.path, amount)));
    for (const a of answers) expect([303, 409], a.text.slice(0, 300)).toContain(a.status);
    // One live session remains: the last one each replaced.
    expect(await stack.db('payment_sessions').where({ link_id: link.id, status: 'open' })).toHaveLength(1);
  });
});

describe('case 2 with Stripe: a closing link expires its Checkout Sessions', () => {
  it('cancel asks Stripe to expire the open Checkout Session, through the outbox', async () => {
    const merchant = await createAccount(stack.db, 'Stripe shop', TEST_ACCOUNT_ZONE);
    const provider = await stack.request('PUT', '/v1/payment_provider', {
      key: merchant.apiKey,
      json: {
        provider: 'stripe',
        secret_key: 'sk_test_51PaylinksSessionsMock0123456789',
        webhook_secret: 'whsec_paylinksSessionsSecret0123456789',
      },
    });
    expect(provider.status).toBe(200);
    const link = await createLink({ amount: 4200 }, merchant.apiKey);
    expect((await pay(link.path)).status).toBe(303);
    const [opened] = await sessions(link.id);
    expect(opened.provider_session_id).toMatch(/^cs_/);
    const cancelled = await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, {
      key: merchant.apiKey,
      json: {},
    });
    expect(cancelled.status).toBe(200);
    const request = `Request: POST /v1/checkout/sessions/${opened.provider_session_id}/expire`;
    await eventually(
      async () => (readFileSync(inject('stripeMockLog'), 'utf8').includes(request) ? true : undefined),
      WAIT_MS,
      `stripe-mock to log ${request}`,
    );
    expect(await session(opened.id)).toMatchObject({ status: 'voided' });
    const item = await eventually(
      async () => {
        const row = await stack.db('outbox').where({ link_id: link.id, kind: 'checkout_expire' }).first();
        return row?.delivered_at ? row : undefined;
      },
      WAIT_MS,
      'the expiry to be delivered',
    );
    expect(item).toMatchObject({
      outcome: 'expired',
      payload: { provider_session_id: opened.provider_session_id },
    });
  });
});
