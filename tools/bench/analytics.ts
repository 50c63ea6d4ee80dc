/**
 * Latency of GET /v1/analytics/payment_links over 1,000,000 links.
 *
 *   npm run bench:analytics            # a scratch database on DATABASE_URL's server, dropped at the end
 *   BENCH_LINKS=200000 npm run bench:analytics
 *
 * Generates one account's links over the last 365 days with their timelines (sent, delivered,
 * viewed, sessions, payments, paid / expired / cancelled) and payments, in set-based SQL, plus a
 * second account whose links must not be counted. The figures table is filled by the migration's
 * own backfills (the triggers are off while generating: one UPDATE per generated event would
 * take far longer than the aggregate). Then the whole API (composeApi, helmet, auth) listens on
 * a loopback port and each group_by is requested over HTTP for a 30-day, a 92-day and the
 * widest (366-day) range; /healthz on the same server is the baseline.
 */
import { backfillLinkAnalytics } from '../../migrations/20261124000500_link_analytics';
import { backfillPayTimeHistogram } from '../../migrations/20261124000800_pay_time_histogram';
import { createAccount } from '../../src/accounts/accounts';
import {
  GROUP_BYS,
  type LinkFigures,
  linkAnalytics,
  MAX_RANGE_DAYS,
} from '../../src/analytics/link-analytics';
import { DEFAULT_DATABASE_URL } from '../../src/config';
import { createDb, type Db, dropDatabase, ensureDatabase } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { listenReadApi } from './support/api';

const LINKS = Number(process.env.BENCH_LINKS ?? 1_000_000);
const OTHER_ACCOUNT_LINKS = Math.round(LINKS / 20);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 60);
const WARMUP = 5;
const DAY_MS = 86_400_000;

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

async function timed(label: string, work: () => Promise<unknown>) {
  const start = process.hrtime.bigint();
  await work();
  console.log(`  ${label}: ${seconds(start).toFixed(1)} s`);
}

/** `count` links of one account, spread over the last 365 days, and their timelines and payments. */
async function generate(db: Db, accountId: string, count: number, prefix: string) {
  await db.raw('SELECT setseed(0.42)');
  await db.raw('DROP TABLE IF EXISTS bench_links');
  // One row of choices per link; every later insert reads from it.
  await db.raw(
    `CREATE UNLOGGED TABLE bench_links AS
     SELECT i,
            ? || lpad(i::text, 8, '0') AS id,
            now() - (random() * interval '365 days') AS created_at,
            (ARRAY['USD','USD','USD','EUR','EUR','GBP'])[1 + (i % 6)] AS currency,
            CASE WHEN i % 5 = 0 THEN NULL ELSE 'camp_' || (i % 40) END AS campaign_id,
            (ARRAY['["email"]','["email"]','["sms"]','["email","sms"]','[]'])[1 + (i % 5)]::jsonb AS channels,
            1000 + (i % 90) * 100 AS amount,
            random() AS r_view, random() AS r_session, random() AS r_fail, random() AS r_end,
            random() * interval '3 days' AS time_to_pay
       FROM generate_series(1, ?) AS i`,
    [prefix, count],
  );
  await db.raw(
    `INSERT INTO payment_links (id, account_id, token, status, amount, currency, timezone, expires_at,
                                channels, reminders, campaign_id, amount_paid, payments_count, created_at, closed_at)
     SELECT id, ?, 'tok_' || id,
            CASE WHEN r_view < 0.7 AND r_session < 0.65 AND r_fail >= 0.1 THEN 'paid'
                 WHEN r_end < 0.1 THEN 'cancelled'
                 WHEN created_at < now() - interval '30 days' THEN 'expired' ELSE 'active' END,
            amount, currency, 'UTC', created_at + interval '30 days', channels,
            '{"offsets":[]}'::jsonb, campaign_id, 0, 0, created_at, NULL
       FROM bench_links`,
    [accountId],
  );
  const event = (type: string, select: string, where = 'true') =>
    db.raw(
      `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
       SELECT ?, l.id, ?, ${select} FROM bench_links l JOIN payment_links p ON p.id = l.id WHERE ${where}`,
      [accountId, type],
    );
  await event('payment_link.created', `'{}'::jsonb, 'created', l.created_at`);
  await db.raw(
    `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
     SELECT ?, l.id, 'payment_link.sent', jsonb_build_object('channel', c.channel), 'send:' || c.channel,
            l.created_at + interval '5 seconds'
       FROM bench_links l CROSS JOIN LATERAL jsonb_array_elements_text(l.channels) AS c(channel)`,
    [accountId],
  );
  await event(
    'notification.delivered',
    `'{"channel":"sms","message_type":"link"}'::jsonb, 'delivered:sms', l.created_at + interval '20 seconds'`,
    `l.channels @> '["sms"]' AND l.r_end > 0.05`,
  );
  // One to three views of each viewed link.
  await db.raw(
    `INSERT INTO link_events (account_id, link_id, type, data, event_key, created_at)
     SELECT ?, l.id, 'link.viewed', '{}'::jsonb, 'view:' || v, l.created_at + v * interval '1 hour'
       FROM bench_links l CROSS JOIN LATERAL generate_series(1, 1 + (l.i % 3)) AS v
      WHERE l.r_view < 0.7`,
    [accountId],
  );
  await event(
    'payment_session.started',
    `'{}'::jsonb, 'session', l.created_at + interval '2 hours'`,
    'l.r_view < 0.7 AND l.r_session < 0.65',
  );
  await event(
    'payment_session.failed',
    `'{"reason":"card_declined"}'::jsonb, 'session_failed', l.created_at + interval '2 hours'`,
    'l.r_view < 0.7 AND l.r_session < 0.65 AND l.r_fail < 0.1',
  );
  await event(
    'payment.succeeded',
    `jsonb_build_object('amount', l.amount, 'currency', l.currency), 'payment', l.created_at + l.time_to_pay`,
    `p.status = 'paid'`,
  );
  await event(
    'payment_link.paid',
    `'{}'::jsonb, 'status:paid', l.created_at + l.time_to_pay`,
    `p.status = 'paid'`,
  );
  await event(
    'payment_link.expired',
    `'{}'::jsonb, 'status:expired', l.created_at + interval '30 days'`,
    `p.status = 'expired'`,
  );
  await event(
    'payment_link.cancelled',
    `'{}'::jsonb, 'status:cancelled', l.created_at + interval '1 day'`,
    `p.status = 'cancelled'`,
  );
  await db.raw(
    `INSERT INTO payments (id, account_id, link_id, provider, provider_payment_id, amount, currency, status, created_at)
     SELECT 'pay_' || l.id, ?, l.id, 'sandbox', 'sb_' || l.id, l.amount, l.currency, 'succeeded', l.created_at + l.time_to_pay
       FROM bench_links l JOIN payment_links p ON p.id = l.id WHERE p.status = 'paid'`,
    [accountId],
  );
  await db.raw(
    `UPDATE payment_links p SET amount_paid = p.amount, payments_count = 1, closed_at = l.created_at + l.time_to_pay
       FROM bench_links l WHERE l.id = p.id AND p.status = 'paid'`,
  );
  await db.raw('DROP TABLE bench_links');
}

/** The largest relative difference of the answer's percentiles from exact ones over the same data. */
async function worstError(
  db: Db,
  accountId: string,
  query: Parameters<typeof linkAnalytics>[2],
  got: LinkFigures[],
) {
  const exact = await linkAnalytics(db, accountId, query, { exactPercentilesMaxPaid: Infinity });
  const byKey = new Map(exact.data.map((g) => [g.key, g]));
  let worst = 0;
  for (const g of got) {
    const want = byKey.get(g.key);
    for (const field of ['median_seconds_to_pay', 'p90_seconds_to_pay'] as const) {
      const [a, b] = [g[field], want?.[field] ?? null];
      if (a === null || b === null) {
        if (a !== b) throw new Error(`${field} of ${g.key}: ${a} vs exact ${b}`);
      } else if (b > 0) worst = Math.max(worst, Math.abs(a - b) / b);
    }
  }
  return worst;
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

async function measure(
  url: string,
  key: string,
): Promise<{ p50: number; p99: number; body: unknown; percentiles: string | null }> {
  const times: number[] = [];
  let body: unknown;
  let percentiles: string | null = null;
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const start = process.hrtime.bigint();
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    body = await res.json();
    percentiles = res.headers.get('paylinks-percentiles');
    if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
    if (i >= WARMUP) times.push(seconds(start) * 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), body, percentiles };
}

async function main() {
  const base = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const dbUrl = new URL(base);
  dbUrl.pathname = `/paylinks_bench_analytics_${process.pid}`;
  await ensureDatabase(dbUrl.toString());
  const db = createDb(dbUrl.toString());
  let closeServer: (() => Promise<void>) | undefined;
  try {
    await migrateLatest(db);
    const account = await createAccount(db, 'Bench shop');
    const other = await createAccount(db, 'Other shop');
    console.log(
      `Generating ${LINKS.toLocaleString('en')} links (+${OTHER_ACCOUNT_LINKS} of another account):`,
    );
    await db.raw('ALTER TABLE payment_links DISABLE TRIGGER link_analytics_on_link');
    await db.raw('ALTER TABLE link_events DISABLE TRIGGER link_analytics_on_event');
    await timed('links, timelines and payments', async () => {
      await generate(db, account.accountId, LINKS, 'plink_b');
      await generate(db, other.accountId, OTHER_ACCOUNT_LINKS, 'plink_o');
    });
    // The histogram's own trigger is off too: its backfill fills it set-wise afterwards.
    await db.raw('ALTER TABLE link_analytics DISABLE TRIGGER link_pay_time_histogram');
    await timed('link_analytics (the migration backfill)', () => backfillLinkAnalytics(db));
    await timed('link_pay_time_histogram (its migration backfill)', () => backfillPayTimeHistogram(db));
    await db.raw('ALTER TABLE link_analytics ENABLE TRIGGER link_pay_time_histogram');
    await db.raw('ALTER TABLE payment_links ENABLE TRIGGER link_analytics_on_link');
    await db.raw('ALTER TABLE link_events ENABLE TRIGGER link_analytics_on_event');
    await timed('VACUUM ANALYZE', () =>
      db.raw(
        'VACUUM ANALYZE link_analytics, link_analytics_daily, link_pay_time_histogram, link_events, payment_links',
      ),
    );
    const counts = await db.raw(
      `SELECT (SELECT count(*) FROM payment_links) AS links, (SELECT count(*) FROM link_events) AS events,
              (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM link_analytics) AS figures`,
    );
    console.log('  rows:', counts.rows[0]);

    const api = await listenReadApi(db, 'bench-analytics');
    closeServer = api.close;
    const { origin } = api;

    const baseline = await measure(`${origin}/healthz`, account.apiKey);
    console.log(
      `\nBaseline GET /healthz: p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms`,
    );
    console.log(`\n${REQUESTS} requests each (after ${WARMUP} warm-up), sequential, over HTTP:\n`);
    console.log(
      '| group_by | range | links in range | groups | percentiles (worst error vs exact) | p50 ms | p99 ms |',
    );
    console.log('| --- | --- | ---: | ---: | --- | ---: | ---: |');
    const to = new Date(Date.now() + DAY_MS).toISOString().slice(0, 10);
    for (const days of [30, 92, MAX_RANGE_DAYS]) {
      const from = new Date(Date.parse(to) - days * DAY_MS).toISOString().slice(0, 10);
      for (const groupBy of GROUP_BYS) {
        const r = await measure(
          `${origin}/v1/analytics/payment_links?from=${from}&to=${to}&group_by=${groupBy}`,
          account.apiKey,
        );
        const data = (r.body as { data: LinkFigures[] }).data;
        const method =
          r.percentiles === 'approximate'
            ? `approximate (${(100 * (await worstError(db, account.accountId, { from, to, groupBy }, data))).toFixed(2)} %)`
            : r.percentiles;
        const links =
          groupBy === 'channel'
            ? '(per channel)'
            : data.reduce((n, g) => n + g.links_created, 0).toLocaleString('en');
        console.log(
          `| ${groupBy} | ${days} days | ${links} | ${data.length} | ${method} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`,
        );
      }
    }
  } finally {
    await closeServer?.();
    await db.destroy();
    if (!process.env.BENCH_KEEP) {
      await dropDatabase(dbUrl.toString());
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
