/**
 * GET /v1/analytics/payment_links against links the test drove through the real stack: every
 * figure of every group_by equals what the test counts from its own plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillPayTimeHistogram } from '../../migrations/20261124000800_pay_time_histogram';
import { createAccount } from '../../src/accounts/accounts';
import { type AnalyticsQuery, linkAnalytics } from '../../src/analytics/link-analytics';
import { APPROXIMATE_RELATIVE_ERROR } from '../../src/analytics/pay-time-percentiles';
import {
  type CreatedLink,
  expectedFigures,
  type GroupBy,
  type LinkPlan,
  PLAN,
  percentile,
  runPlan,
} from '../helpers/analytics-scenario';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
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
  other = await createAccount(stack.db, 'Another shop', TEST_ACCOUNT_ZONE);
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
    const ok = await fetch(`${stack.baseUrl}/v1/analytics/payment_links?${range()}&group_by=day`, {
      headers: { authorization: `Bearer ${stack.account.apiKey}` },
    });
    // The test's few paid links are below the threshold: their percentiles are exact.
    expect(ok.headers.get('paylinks-percentiles')).toBe('exact');
    expect((await analytics('from=2025-01-01&to=2026-01-02&group_by=week')).status).toBe(200);
    const r = await stack.request('GET', `/v1/analytics/payment_links?${range()}`, { key: null });
    expect(r.status).toBe(401);
  });
});

/** Within the documented bound of the exact value (or 1 ms: the API's precision). */
const expectWithinBound = (got: number | null, exact: number | null, what: string) => {
  if (exact === null) return expect(got, what).toBeNull();
  expect(got, what).not.toBeNull();
  expect(Math.abs((got as number) - exact), `${what}: ${got} vs exact ${exact}`).toBeLessThanOrEqual(
    APPROXIMATE_RELATIVE_ERROR * exact + 0.001,
  );
};

describe('approximate percentiles (the histogram, forced by a threshold of 0)', () => {
  const GROUPS: GroupBy[] = ['day', 'week', 'channel', 'campaign', 'currency'];

  it.each(GROUPS)('group_by=%s over the links the test drove: within the bound', async (groupBy) => {
    const query: AnalyticsQuery = { from: day(-2), to: day(2), groupBy };
    const r = await linkAnalytics(stack.db, stack.account.accountId, query, { exactPercentilesMaxPaid: 0 });
    expect(r.percentiles).toBe('approximate');
    const expected = expectedFigures(links, groupBy);
    expect(r.data.map((g) => g.key)).toEqual(expected.map((g) => g.key));
    for (const [i, want] of expected.entries()) {
      expectWithinBound(
        r.data[i]?.median_seconds_to_pay ?? null,
        want.median_seconds_to_pay,
        `median of ${want.key}`,
      );
      expectWithinBound(r.data[i]?.p90_seconds_to_pay ?? null, want.p90_seconds_to_pay, `p90 of ${want.key}`);
    }
  });

  /**
   * Many links of another account over four and a half months (so that whole months are read
   * from month rows and the edges from day rows), with times to pay from under 1 ms to days,
   * written as timeline entries so that the triggers keep the figures; the exact percentiles are
   * worked out here from the generated times.
   */
  describe('over generated links', () => {
    const FROM = '2025-01-10';
    const TO = '2025-05-20';
    const CHANNELS = [['email'], ['sms'], ['email', 'sms'], []];
    let shop: { accountId: string };
    const generated: {
      created: Date;
      currency: string;
      campaign: string | null;
      channels: string[];
      seconds: number | null;
    }[] = [];

    beforeAll(async () => {
      shop = await createAccount(stack.db, 'Histogram shop', TEST_ACCOUNT_ZONE);
      let seed = 7;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const start = Date.parse(`${FROM}T00:00:00Z`);
      const span = Date.parse(`${TO}T00:00:00Z`) - start;
      for (let i = 0; i < 1500; i++) {
        const channels = CHANNELS[i % 4] as string[];
        // Log-uniform from 0.1 ms to 6 days, whole milliseconds (the timestamps' precision here).
        const ms = Math.round(Math.exp(Math.log(0.1) + random() * Math.log(5_000_000_000)));
        generated.push({
          created: new Date(start + Math.floor(random() * span)),
          currency: i % 3 === 0 ? 'EUR' : 'USD',
          campaign: i % 5 === 0 ? null : `camp_${i % 7}`,
          channels,
          seconds: i % 6 === 5 ? null : ms / 1000,
        });
      }
      await stack.db.raw(
        `INSERT INTO payment_links (id, account_id, token, status, amount, currency, timezone, expires_at,
                                    channels, reminders, campaign_id, amount_paid, payments_count, created_at)
         SELECT 'plink_hist' || i, ?, 'tok_hist' || i, 'active', 1000, c, 'UTC', t + interval '30 days',
                ch::jsonb, '{"offsets":[]}'::jsonb, nullif(camp, ''), 0, 0, t
           FROM unnest(?::int[], ?::timestamptz[], ?::text[], ?::text[], ?::text[]) AS g(i, t, c, camp, ch)`,
        [
          shop.accountId,
          generated.map((_, i) => i),
          generated.map((l) => l.created.toISOString()),
          generated.map((l) => l.currency),
          generated.map((l) => l.campaign ?? ''),
          generated.map((l) => JSON.stringify(l.channels)),
        ],
      );
      // Every link sent (on its first channel, or none named) 5 s after creation; some paid.
      await stack.db.raw(
        `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
         SELECT ?, 'plink_hist' || i, 'payment_link.sent',
                CASE WHEN ch = '' THEN '{}'::jsonb ELSE jsonb_build_object('channel', ch) END,
                'sent', t + interval '5 seconds'
           FROM unnest(?::int[], ?::timestamptz[], ?::text[]) AS g(i, t, ch)`,
        [
          shop.accountId,
          generated.map((_, i) => i),
          generated.map((l) => l.created.toISOString()),
          generated.map((l) => l.channels[0] ?? ''),
        ],
      );
      const paid = generated.flatMap((l, i) => (l.seconds === null ? [] : [{ l, i }]));
      await stack.db.raw(
        `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
         SELECT ?, 'plink_hist' || i, 'payment_link.paid', '{}'::jsonb, 'status:paid',
                t + interval '5 seconds' + ms * interval '1 millisecond'
           FROM unnest(?::int[], ?::timestamptz[], ?::int[]) AS g(i, t, ms)`,
        [
          shop.accountId,
          paid.map(({ i }) => i),
          paid.map(({ l }) => l.created.toISOString()),
          paid.map(({ l }) => Math.round((l.seconds as number) * 1000)),
        ],
      );
    });

    const keysOf = (l: (typeof generated)[number], groupBy: GroupBy): (string | null)[] => {
      const d = l.created.toISOString().slice(0, 10);
      if (groupBy === 'day') return [d];
      if (groupBy === 'week') {
        const monday = new Date(`${d}T00:00:00Z`);
        monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
        return [monday.toISOString().slice(0, 10)];
      }
      if (groupBy === 'currency') return [l.currency];
      if (groupBy === 'campaign') return [l.campaign];
      return l.channels.length === 0 ? [null] : l.channels;
    };

    it.each(GROUPS)(
      'group_by=%s: within the bound of the exact percentiles worked out here',
      async (groupBy) => {
        const times = new Map<string | null, number[]>();
        for (const l of generated) {
          if (l.seconds === null) continue;
          for (const key of keysOf(l, groupBy)) times.set(key, [...(times.get(key) ?? []), l.seconds]);
        }
        const query: AnalyticsQuery = { from: FROM, to: TO, groupBy };
        const approximate = await linkAnalytics(stack.db, shop.accountId, query, {
          exactPercentilesMaxPaid: 0,
        });
        const exact = await linkAnalytics(stack.db, shop.accountId, query);
        expect(approximate.percentiles).toBe('approximate');
        expect(exact.percentiles).toBe('exact');
        expect(approximate.data.map((g) => g.key)).toEqual(exact.data.map((g) => g.key));
        expect(approximate.data.map((g) => g.key)).toEqual(expect.arrayContaining([...times.keys()]));
        let differing = 0;
        for (const [i, g] of approximate.data.entries()) {
          const values = times.get(g.key) ?? [];
          for (const [field, p] of [
            ['median_seconds_to_pay', 0.5],
            ['p90_seconds_to_pay', 0.9],
          ] as const) {
            const want = percentile(values, p);
            expectWithinBound(g[field], want, `${field} of ${g.key}`);
            // Exact: to the millisecond (a median between two times may end in half a millisecond).
            if (want === null) expect(exact.data[i]?.[field]).toBeNull();
            else
              expect(
                Math.abs((exact.data[i]?.[field] as number) - want),
                `exact ${field} of ${g.key}`,
              ).toBeLessThanOrEqual(0.0005 + 1e-9);
            if (g[field] !== exact.data[i]?.[field]) differing++;
          }
        }
        // The histogram was read, not the exact path under another name.
        expect(differing).toBeGreaterThan(0);
      },
    );

    it('a changed time to pay moves the link to its new bucket; the triggers agree with the backfill', async () => {
      const i = generated.findIndex((l) => l.seconds !== null && l.seconds > 100);
      const link = generated[i] as (typeof generated)[number];
      // A send recorded late, one hour before the first: the link waited an hour longer.
      await stack.db.raw(
        `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
         VALUES (?, ?, 'payment_link.sent', '{}'::jsonb, 'sent:earlier', ?::timestamptz - interval '1 hour')`,
        [shop.accountId, `plink_hist${i}`, new Date(link.created.getTime() + 5000).toISOString()],
      );
      link.seconds = (link.seconds as number) + 3600;
      const cells = async () =>
        (
          await stack.db.raw(
            `SELECT account_id, kind, period, to_char(day, 'YYYY-MM-DD') AS day, value, bucket, links
               FROM link_pay_time_histogram WHERE links <> 0
              ORDER BY account_id, kind, period, day, value, bucket`,
          )
        ).rows;
      const kept = await cells();
      const total = kept
        .filter(
          (c: { account_id: string; kind: string; period: string }) =>
            c.account_id === shop.accountId && c.kind === 'all' && c.period === 'month',
        )
        .reduce((n: number, c: { links: number }) => n + c.links, 0);
      expect(total).toBe(generated.filter((l) => l.seconds !== null).length);
      await backfillPayTimeHistogram(stack.db);
      expect(await cells()).toEqual(kept);
      const r = await linkAnalytics(
        stack.db,
        shop.accountId,
        { from: FROM, to: TO, groupBy: 'currency' },
        { exactPercentilesMaxPaid: 0 },
      );
      const group = r.data.find((g) => g.key === link.currency);
      const values = generated.filter((l) => l.currency === link.currency && l.seconds !== null);
      expectWithinBound(
        group?.p90_seconds_to_pay ?? null,
        percentile(
          values.map((l) => l.seconds as number),
          0.9,
        ),
        'p90 after the change',
      );
    });
  });
});
