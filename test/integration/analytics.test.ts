/**
 * GET /v1/analytics/payment_links against links the test drove through the real stack: every
 * figure of every group_by equals what the test counts from its own plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import {
  type CreatedLink,
  expectedFigures,
  type GroupBy,
  type LinkPlan,
  PLAN,
  runPlan,
} from '../helpers/analytics-scenario';
import { type Stack, startStack } from '../helpers/stack';

let stack: Stack;
let links: CreatedLink[];
let other: { accountId: string; apiKey: string };
let otherLinks: CreatedLink[];

const OTHER_PLAN: LinkPlan[] = [
  {
    currency: 'USD',
    amount: 9900,
    campaign: 'spring',
    channels: ['email'],
    views: 1,
    attempts: ['succeed'],
    end: 'paid',
  },
];

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const range = () => `from=${day(-2)}&to=${day(2)}`;

beforeAll(async () => {
  stack = await startStack();
  other = await createAccount(stack.db, 'Another shop');
  // One at a time: both accounts' links are in the same tables, the same days.
  otherLinks = await runPlan(stack, OTHER_PLAN, other);
  links = await runPlan(stack, PLAN);
});
afterAll(async () => {
  await stack?.stop();
});

const analytics = (query: string, key?: string) =>
  stack.request('GET', `/v1/analytics/payment_links?${query}`, { key });

describe('analytics figures', () => {
  it.each(['day', 'week', 'channel', 'campaign', 'currency'] as GroupBy[])(
    'group_by=%s: every figure equals the count of what the test did',
    async (groupBy) => {
      const r = await analytics(`${range()}&group_by=${groupBy}`);
      expect(r.status).toBe(200);
      expect(r.body.object).toBe('list');
      const expected = expectedFigures(links, groupBy);
      expect(r.body.data.map((g: { key: string | null }) => g.key)).toEqual(expected.map((g) => g.key));
      for (const [i, want] of expected.entries()) {
        const got = r.body.data[i];
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
        const { median_seconds_to_pay, p90_seconds_to_pay, ...counts } = want;
        expect(got, `group ${want.key}`).toMatchObject(counts);
        for (const [field, value] of Object.entries({ median_seconds_to_pay, p90_seconds_to_pay })) {
          // The timeline shows milliseconds; the API rounds to the millisecond.
          if (value === null) expect(got[field], `${field} of ${want.key}`).toBeNull();
          else expect(got[field], `${field} of ${want.key}`).toBeCloseTo(value, 2);
        }
      }
    },
  );

  it('the plan covers what the figures distinguish', () => {
    const all = expectedFigures(links, 'currency');
    const total = (
      field: 'links_paid' | 'links_expired' | 'links_cancelled' | 'links_delivered' | 'payments_failed',
    ) => all.reduce((n, g) => n + g[field], 0);
    expect(all.map((g) => g.key)).toEqual(['EUR', 'USD']);
    for (const field of [
      'links_paid',
      'links_expired',
      'links_cancelled',
      'links_delivered',
      'payments_failed',
    ] as const)
      expect(total(field), field).toBeGreaterThan(0);
    expect(links.filter((l) => l.secondsToPay !== null).length).toBeGreaterThan(2);
  });

  it("counts only the asking account's links", async () => {
    const theirs = await analytics(`${range()}&group_by=campaign`, other.apiKey);
    expect(theirs.body.data).toEqual(
      expectedFigures(otherLinks, 'campaign').map((g) =>
        expect.objectContaining({
          key: g.key,
          links_created: g.links_created,
          links_paid: g.links_paid,
          amount_collected: g.amount_collected,
        }),
      ),
    );
    const ours = await analytics(`${range()}&group_by=currency`);
    const usd = ours.body.data.find((g: { key: string }) => g.key === 'USD');
    expect(usd.links_created).toBe(PLAN.filter((p) => p.currency === 'USD').length);
  });

  it('a range without links answers an empty list; rates are null when nothing divides them', async () => {
    const r = await analytics('from=2020-01-01&to=2020-02-01&group_by=day');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ object: 'list', data: [] });
    const campaigns = await analytics(`${range()}&group_by=campaign`);
    const none = campaigns.body.data.find((g: { key: string | null }) => g.key === null);
    // The links without a campaign: none was paid after a send, one expired without a view.
    expect(none.median_seconds_to_pay).toBeNull();
  });
});

describe('bad queries', () => {
  const refused = async (query: string, param: string, key?: string | null) => {
    const r = await stack.request('GET', `/v1/analytics/payment_links?${query}`, { key });
    expect(r.status, query).toBe(400);
    expect(r.body.error.param, query).toBe(param);
    expect(r.body.error.message, query).toContain(param);
    return r;
  };

  it('names the field that is missing, malformed or out of range', async () => {
    await refused(`to=${day(1)}`, 'from');
    await refused(`from=${day(0)}`, 'to');
    await refused(`from=yesterday&to=${day(1)}`, 'from');
    await refused(`from=${day(0)}&to=2026-02-30`, 'to');
    await refused(`from=${day(0)}T00:00:00Z&to=${day(1)}`, 'from');
    await refused(`from=${day(1)}&to=${day(1)}`, 'to');
    await refused(`from=${day(1)}&to=${day(0)}`, 'to');
    await refused('from=2024-01-01&to=2025-01-02', 'to');
    await refused(`${range()}&group_by=hour`, 'group_by');
    await refused(`${range()}&group_by=day&group_by=week`, 'group_by');
    await refused(`${range()}&limit=5`, 'limit');
  });

  it('the widest range is accepted; an unauthenticated request is refused', async () => {
    expect((await analytics('from=2025-01-01&to=2026-01-02&group_by=week')).status).toBe(200);
    const r = await stack.request('GET', `/v1/analytics/payment_links?${range()}`, { key: null });
    expect(r.status).toBe(401);
  });
});
