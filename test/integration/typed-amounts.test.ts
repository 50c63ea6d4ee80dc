/**
 * A partial amount typed on the link page is read by the customer's locale rules, through Pay on
 * the real stack: on an en page a decimal comma or stray grouping is refused with the format the
 * page expects (never read as a hundred times the amount meant), and what the locale writes opens
 * a session for exactly that amount.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/money/format';
import { type Stack, startStack } from '../helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const partialLink = async (currency: string, locale: string) => {
  const r = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 500_000, currency, accept_partial: true, customer: { locale, email: 'c@example.com' } },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id as string, path: new URL(r.body.url).pathname };
};
const pay = async (path: string, amount: string) => {
  const res = await stack.postForm(`${path}/pay`, { amount });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
};
const sessionAmount = async (checkout: string | null) => {
  const id = (checkout ?? '').split('/').at(-1) as string;
  return (await stack.db('payment_sessions').where({ id }).first())?.amount as number | undefined;
};
const sessionsOf = (linkId: string) => stack.db('payment_sessions').where({ link_id: linkId });

describe('a typed amount on an en page', () => {
  it('refuses 12,50 and 1,,,,5 with the format it expects, opening no session', async () => {
    const link = await partialLink('USD', 'en');
    const range = `Enter an amount between ${formatAmount(1, 'USD', 'en')} and ${formatAmount(500_000, 'USD', 'en')}.`;
    for (const typed of ['12,50', '1,,,,5']) {
      const r = await pay(link.path, typed);
      expect(r.status, typed).toBe(400);
      expect(r.text).toContain(
        `role="alert">“${typed}” is not an amount as this page writes them: write it like 12.50 or 1,250.00. ${range}</p>`,
      );
      // The page comes back with what was typed, to correct it.
      expect(r.text).toContain(`value="${typed}"`);
    }
    expect(await sessionsOf(link.id)).toHaveLength(0);
  });

  it('reads 1,250.00 as 125000 cents and 12.50 as 1250', async () => {
    const grouped = await pay((await partialLink('USD', 'en')).path, '1,250.00');
    expect(grouped.status).toBe(303);
    expect(await sessionAmount(grouped.location)).toBe(125_000);
    const plain = await pay((await partialLink('USD', 'en')).path, '12.50');
    expect(plain.status).toBe(303);
    expect(await sessionAmount(plain.location)).toBe(1250);
  });
});

describe('a typed amount on a fr page', () => {
  it('reads 12,50 as 1250 cents', async () => {
    const r = await pay((await partialLink('EUR', 'fr')).path, '12,50');
    expect(r.status).toBe(303);
    expect(await sessionAmount(r.location)).toBe(1250);
  });

  it.each([
    ['a space', '1 250,00'],
    ['a narrow no-break space', '1\u202f250,00'],
    ['a no-break space', '1\u00a0250,00'],
  ])('reads 1 250,00 grouped with %s as 125000 cents', async (_kind, typed) => {
    const r = await pay((await partialLink('EUR', 'fr')).path, typed);
    expect(r.status).toBe(303);
    expect(await sessionAmount(r.location)).toBe(125_000);
  });

  it('refuses 12.50 grouped where fr never groups, opening no session', async () => {
    const link = await partialLink('EUR', 'fr');
    const r = await pay(link.path, '12 50,00');
    expect(r.status).toBe(400);
    expect(r.text).toContain(
      `write it like ${new Intl.NumberFormat('fr', { minimumFractionDigits: 2 }).format(12.5)} or ${new Intl.NumberFormat('fr', { minimumFractionDigits: 2 }).format(1250)}.`,
    );
    expect(await sessionsOf(link.id)).toHaveLength(0);
  });
});
