/**
 * The campaign data API at size: recipient imports of 10,000 and 100,000 rows over HTTP, and a
 * 100,000-recipient campaign's progress and results.csv.
 *
 *   npx tsx tools/bench/campaign-data.ts      # a scratch database on DATABASE_URL's server, dropped at the end
 *   BENCH_RECIPIENTS=20000 npx tsx tools/bench/campaign-data.ts
 *
 * The imports go through the whole API (composeApi: helmet, auth, the streamed CSV reader, the
 * batched INSERTs). For progress, the campaign's links, their figures and messages are generated
 * in set-based SQL (the analytics triggers off, as tools/bench/analytics.ts does), next to as many
 * links of another campaign of the same account that must not be read; the plans of the
 * progress statements are printed (EXPLAIN ANALYZE) with the request latencies.
 */
import { backfillLinkAnalytics } from '../../migrations/20261124000500_link_analytics';
import { backfillCampaignMessageCounts } from '../../migrations/20261124001200_campaign_progress';
import { createAccount } from '../../src/accounts/accounts';
import { LINK_FIGURES_SQL, MEDIAN_TIME_TO_PAY_SQL, MESSAGE_FIGURES_SQL } from '../../src/campaigns/progress';
import { DEFAULT_DATABASE_URL } from '../../src/config';
import { createDb, type Db, dropDatabase, ensureDatabase } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { listenReadApi } from './support/api';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 100_000);
const REQUESTS = 20;
/** Links (and their messages) of another campaign of the same account, which progress must not read. */
const NOISE_LINKS = Number(process.env.BENCH_NOISE_LINKS ?? 3 * RECIPIENTS);

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

function csvOf(count: number, offset = 0): string {
  const lines = ['name,email,phone,amount,reference,metadata.segment'];
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    lines.push(
      `Customer ${n},customer${n}@example.com,+1415${String(2_000_000 + n).padStart(7, '0')},${1000 + (n % 500)},INV-${n},s${n % 7}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Links of a campaign with figures and messages, as the engine and the workflows leave them. */
async function generateLinks(db: Db, accountId: string, campaignId: string, count: number, prefix: string) {
  await db.raw('SELECT setseed(0.17)');
  await db.raw(
    `INSERT INTO payment_links (id, account_id, token, status, amount, currency, timezone, expires_at,
                                channels, reminders, campaign_id, amount_paid, payments_count, created_at)
     SELECT ? || i, ?, 'tok_' || ? || i, CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'active' END, 1000, 'USD', 'UTC',
            now() + interval '30 days', '["email","sms"]', '{}', ?, CASE WHEN i % 3 = 0 THEN 1000 ELSE 0 END,
            (i % 3 = 0)::int, now() - interval '2 days'
       FROM generate_series(1, ?) AS i`,
    [prefix, accountId, prefix, campaignId, count],
  );
  await db.raw(
    `INSERT INTO link_analytics (link_id, account_id, created_at, currency, campaign_id, channels, first_sent_at,
                                 sent_channels, first_viewed_at, payments_succeeded, amount_collected, paid_at, closed_as)
     SELECT id, account_id, created_at, currency, campaign_id, '{email,sms}', created_at + interval '1 minute',
            '{email}', CASE WHEN random() < 0.6 THEN created_at + interval '1 hour' END,
            (status = 'paid')::int, amount_paid,
            CASE WHEN status = 'paid' THEN created_at + random() * interval '1 day' END,
            CASE WHEN status = 'paid' THEN 'paid' END
       FROM payment_links WHERE campaign_id = ? AND account_id = ?`,
    [campaignId, accountId],
  );
  for (const channel of ['email', 'sms'])
    await db.raw(
      `INSERT INTO notifications (id, account_id, link_id, message_key, channel, message_type, recipient, status,
                                  unsubscribe_token, sent_at)
       SELECT 'ntf_' || ? || id, account_id, id, 'link:' || ?, ?, 'link', 'someone',
              (ARRAY['sent','delivered','failed'])[1 + (abs(hashtext(id)) % 3)], 'u_' || ? || id,
              CASE WHEN abs(hashtext(id)) % 3 <> 2 THEN now() END
         FROM payment_links WHERE campaign_id = ? AND account_id = ?`,
      [channel, channel, channel, channel, campaignId, accountId],
    );
}

async function main() {
  const base = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const dbUrl = new URL(base);
  dbUrl.pathname = `/paylinks_bench_campaigns_${process.pid}`;
  await ensureDatabase(dbUrl.toString());
  const db = createDb(dbUrl.toString());
  let closeServer: (() => Promise<void>) | undefined;
  try {
    await migrateLatest(db);
    const account = await createAccount(db, 'Bench shop');
    const api = await listenReadApi(db, 'bench-campaigns');
    closeServer = api.close;
    const { origin } = api;
    const auth = { authorization: `Bearer ${account.apiKey}` };

    const createCampaign = async (name: string) => {
      const res = await fetch(`${origin}/v1/campaigns`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          name,
          link: {
            currency: 'USD',
            description: 'Invoice {reference} for {name}',
            channels: ['email', 'sms'],
          },
        }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    const importCsv = async (id: string, csv: string) => {
      const start = process.hrtime.bigint();
      const res = await fetch(`${origin}/v1/campaigns/${id}/recipients`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/csv' },
        body: csv,
      });
      const body = (await res.json()) as { accepted: number; duplicates: number };
      if (!res.ok) throw new Error(JSON.stringify(body));
      return { ms: ms(start), ...body };
    };

    console.log('Recipient imports over HTTP (text/csv, streamed):\n');
    console.log('| rows | MB | run | accepted | duplicates | wall ms | rows/s |');
    console.log('| ---: | ---: | --- | ---: | ---: | ---: | ---: |');
    for (const rows of [10_000, RECIPIENTS]) {
      const csv = csvOf(rows);
      const mb = (Buffer.byteLength(csv) / 1024 / 1024).toFixed(1);
      const runs = rows === 10_000 ? 3 : 1;
      for (let run = 1; run <= runs; run++) {
        const id = await createCampaign(`Import ${rows} #${run}`);
        const r = await importCsv(id, csv);
        console.log(
          `| ${rows.toLocaleString('en')} | ${mb} | new campaign #${run} | ${r.accepted} | ${r.duplicates} | ${r.ms.toFixed(0)} | ${Math.round((rows / r.ms) * 1000).toLocaleString('en')} |`,
        );
        if (run === runs) {
          const again = await importCsv(id, csv);
          console.log(
            `| ${rows.toLocaleString('en')} | ${mb} | same file again | ${again.accepted} | ${again.duplicates} | ${again.ms.toFixed(0)} | ${Math.round((rows / again.ms) * 1000).toLocaleString('en')} |`,
          );
        }
      }
    }

    const campaign = (await db('campaigns')
      .where({ name: `Import ${RECIPIENTS} #1` })
      .first()) as { id: string };
    const noise = await createCampaign('Another campaign');
    console.log(
      `\nGenerating ${RECIPIENTS.toLocaleString('en')} links (+ ${NOISE_LINKS.toLocaleString('en')} of another campaign)…`,
    );
    await db.raw('ALTER TABLE payment_links DISABLE TRIGGER link_analytics_on_link');
    await db.raw('ALTER TABLE link_analytics DISABLE TRIGGER USER');
    await db.raw('ALTER TABLE notifications DISABLE TRIGGER campaign_message_counts_on_notification');
    await generateLinks(db, account.accountId, campaign.id, RECIPIENTS, 'plink_c');
    await generateLinks(db, account.accountId, noise, NOISE_LINKS, 'plink_n');
    // The daily sums from the figures, as the migration backfills them (the triggers were off).
    await backfillLinkAnalytics(db);
    await backfillCampaignMessageCounts(db);
    await db.raw('ALTER TABLE notifications ENABLE TRIGGER campaign_message_counts_on_notification');
    await db.raw('ALTER TABLE link_analytics ENABLE TRIGGER USER');
    await db.raw('ALTER TABLE payment_links ENABLE TRIGGER link_analytics_on_link');
    await db.raw(
      `UPDATE campaign_recipients SET link_id = 'plink_c' || seq, status = 'created' WHERE campaign_id = ?`,
      [campaign.id],
    );
    await db.raw('VACUUM ANALYZE payment_links, link_analytics, notifications, campaign_recipients');

    const scope = [account.accountId, campaign.id];
    for (const [label, sql, bindings] of [
      ['link figures (daily sums)', LINK_FIGURES_SQL, scope],
      ['median time to pay', MEDIAN_TIME_TO_PAY_SQL, scope],
      ['messages per channel', MESSAGE_FIGURES_SQL, scope],
    ] as const) {
      const plan = await db.raw<{ rows: { 'QUERY PLAN': string }[] }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, [
        ...bindings,
      ]);
      console.log(
        `\nEXPLAIN ANALYZE, ${label}:\n${plan.rows.map((r) => `    ${r['QUERY PLAN']}`).join('\n')}`,
      );
    }

    const times: number[] = [];
    let progress: unknown;
    for (let i = 0; i < REQUESTS + 3; i++) {
      const start = process.hrtime.bigint();
      const res = await fetch(`${origin}/v1/campaigns/${campaign.id}`, { headers: auth });
      progress = ((await res.json()) as { progress: unknown }).progress;
      if (i >= 3) times.push(ms(start));
    }
    times.sort((a, b) => a - b);
    console.log(
      `\nGET /v1/campaigns/:id over ${RECIPIENTS.toLocaleString('en')} recipients, ${REQUESTS} requests:`,
    );
    console.log(
      `  p50 ${times[Math.floor(times.length / 2)]?.toFixed(1)} ms, max ${times.at(-1)?.toFixed(1)} ms`,
    );
    console.log(`  progress: ${JSON.stringify(progress)}`);

    const start = process.hrtime.bigint();
    const res = await fetch(`${origin}/v1/campaigns/${campaign.id}/results.csv`, { headers: auth });
    const text = await res.text();
    console.log(
      `\nGET results.csv: ${text.split('\n').length - 2} rows, ${(text.length / 1024 / 1024).toFixed(1)} MB in ${ms(start).toFixed(0)} ms`,
    );
  } finally {
    await closeServer?.();
    await db.destroy();
    if (!process.env.BENCH_KEEP) await dropDatabase(dbUrl.toString());
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
