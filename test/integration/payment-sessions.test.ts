/**
 * The customer's side of "money is never collected twice", over HTTP on the real stack: a
 * partial amount typed as money in the customer's locale, one live session per single-use link
 * whatever tabs race, one capture per checkout however often it is submitted, and a payment
 * through a replaced session flagged for review.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/money/format';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const createLink = async (body: Record<string, unknown>) => {
  const r = await stack.request('POST', '/v1/payment_links', { json: body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id as string, path: new URL(r.body.url).pathname };
};
const html = async (path: string) => {
  const res = await fetch(`${stack.baseUrl}${path}`);
  return { status: res.status, text: await res.text() };
};
const pay = async (path: string, amount?: string) => {
  const res = await stack.postForm(`${path}/pay`, amount === undefined ? {} : { amount });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
};
const sessionOf = (checkout: string | null) => (checkout ?? '').split('/').at(-1) as string;
const session = (id: string) => stack.db('payment_sessions').where({ id }).first();

describe('a partial payment is typed as money, in the customer’s locale', () => {
  const euroLink = () =>
    createLink({
      amount: 5000,
      currency: 'EUR',
      accept_partial: true,
      customer: { locale: 'fr-FR', email: 'client@example.fr' },
    });

  it('the field says the currency and shows the locale’s format, never "the smallest unit"', async () => {
    const link = await euroLink();
    const page = await html(link.path);
    expect(page.text).toContain('<label for="amount">Amount to pay (EUR)</label>');
    expect(page.text).toContain('placeholder="50,00"');
    expect(page.text).toContain(
      `Between ${formatAmount(1, 'EUR', 'fr-FR')} and ${formatAmount(5000, 'EUR', 'fr-FR')}`,
    );
    expect(page.text).not.toMatch(/smallest unit/i);
  });

  it('12,50 on a fr-FR EUR link opens a session for 1250 cents', async () => {
    const link = await euroLink();
    const r = await pay(link.path, '12,50');
    expect(r.status).toBe(303);
    expect(await session(sessionOf(r.location))).toMatchObject({
      amount: 1250,
      currency: 'EUR',
      status: 'open',
    });
  });

  it('12,505 and abc are refused on the page with the allowed range as money', async () => {
    const link = await euroLink();
    const range = `Enter an amount between ${formatAmount(1, 'EUR', 'fr-FR')} and ${formatAmount(5000, 'EUR', 'fr-FR')}.`;
    const tooPrecise = await pay(link.path, '12,505');
    expect(tooPrecise.status).toBe(400);
    expect(tooPrecise.text).toContain(
      `role="alert">Amounts in EUR have at most 2 decimal places. ${range}</p>`,
    );
    expect(tooPrecise.text).toContain('value="12,505"');
    const notMoney = await pay(link.path, 'abc');
    expect(notMoney.status).toBe(400);
    expect(notMoney.text).toContain(`“abc” is not an amount. ${range}`);
    expect(await stack.db('payment_sessions').where({ link_id: link.id })).toHaveLength(0);
  });

  it('JPY has no decimals: 1.250 in de-DE is 1250 yen, 12,5 is refused', async () => {
    const link = await createLink({
      amount: 5000,
      currency: 'JPY',
      accept_partial: true,
      customer: { locale: 'de-DE' },
    });
    expect((await html(link.path)).text).toContain('placeholder="5000"');
    const refused = await pay(link.path, '12,5');
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('Amounts in JPY have no decimal places.');
    const ok = await pay(link.path, '1.250');
    expect(ok.status).toBe(303);
    expect(await session(sessionOf(ok.location))).toMatchObject({ amount: 1250, currency: 'JPY' });
  });
});

describe('one live payment session per single-use link', () => {
  it('two tabs pressing Pay at once get the same checkout: one session', async () => {
    const link = await createLink({ amount: 700, currency: 'USD' });
    const [a, b] = await Promise.all([pay(link.path), pay(link.path)]);
    expect([a.status, b.status]).toEqual([303, 303]);
    expect(a.location).toMatch(/^\/sandbox\/checkout\/ps_/);
    expect(b.location).toBe(a.location);
    const sessions = await stack.db('payment_sessions').where({ link_id: link.id });
    expect(sessions).toMatchObject([{ status: 'open', amount: 700 }]);
    // And later: Pay again resumes it.
    expect((await pay(link.path)).location).toBe(a.location);
  });

  it('two submits of one checkout make one capture; the link is paid once', async () => {
    const link = await createLink({ amount: 700, currency: 'USD' });
    const checkout = (await pay(link.path)).location as string;
    const submits = await Promise.all([
      stack.postForm(checkout, { outcome: 'succeed' }),
      stack.postForm(checkout, { outcome: 'succeed' }),
    ]);
    expect(submits.map((r) => r.status).sort()).toEqual([303, 410]);
    const paid = await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    expect(paid).toMatchObject({ amount_paid: 700, payments_count: 1 });
    expect(await stack.db('payments').where({ link_id: link.id })).toHaveLength(1);
    expect(await session(sessionOf(checkout))).toMatchObject({ status: 'succeeded' });
    // The settled session's checkout is closed.
    expect((await html(checkout)).status).toBe(410);
    expect((await stack.postForm(checkout, { outcome: 'succeed' })).status).toBe(410);
  });

  it('another amount voids the open session; a payment through it is flagged stale_session', async () => {
    const link = await createLink({
      amount: 1000,
      currency: 'EUR',
      accept_partial: true,
      customer: { locale: 'fr-FR' },
    });
    const first = (await pay(link.path, '4,00')).location as string;
    const second = (await pay(link.path, '5,00')).location as string;
    expect(second).not.toBe(first);
    expect(await session(sessionOf(first))).toMatchObject({ status: 'voided', amount: 400 });
    expect(await session(sessionOf(second))).toMatchObject({ status: 'open', amount: 500 });
    expect((await pay(link.path, '5')).location).toBe(second);
    expect((await html(first)).status).toBe(410);
    expect((await stack.postForm(first, { outcome: 'succeed' })).status).toBe(410);

    // The provider captures through the voided session anyway (a checkout page left open).
    const sessionId = sessionOf(first);
    const body = JSON.stringify({
      id: `evt_stale_${sessionId}`,
      type: 'payment.succeeded',
      data: { session_id: sessionId, payment_id: `pi_stale_${sessionId}`, amount: 400, currency: 'EUR' },
    });
    const res = await stack.sandboxCallback(body);
    expect(res.status).toBe(200);
    const payment = await eventually(
      async () => (await stack.request('GET', `/v1/payment_links/${link.id}/payments`)).body.data[0],
      30_000,
      'the stale payment to be recorded',
    );
    expect(payment).toMatchObject({ amount: 400, flags: ['stale_session'], refund_review: true });
  });

  it('a session past its expiry frees the link for a new one', async () => {
    const link = await createLink({ amount: 700, currency: 'USD' });
    const old = sessionOf((await pay(link.path)).location);
    await stack
      .db('payment_sessions')
      .where({ id: old })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const fresh = sessionOf((await pay(link.path)).location);
    expect(fresh).not.toBe(old);
    expect(await session(old)).toMatchObject({ status: 'expired' });
    expect(await session(fresh)).toMatchObject({ status: 'open' });
  });

  it('a multi-use link opens a session per payer', async () => {
    const link = await createLink({ amount: 700, currency: 'USD', max_payments: 10 });
    const [a, b] = await Promise.all([pay(link.path), pay(link.path)]);
    expect(a.location).not.toBe(b.location);
    expect(await stack.db('payment_sessions').where({ link_id: link.id, status: 'open' })).toHaveLength(2);
  });
});
