/**
 * The campaign data API on the real stack: campaigns created and refused, recipients imported
 * from CSV (streamed) and JSON with their bad rows and duplicates reported, and a campaign's
 * progress and results.csv matching the rows its links left in Postgres (links made through
 * POST /v1/payment_links with campaign_id, as the engine makes them, and paid through the sandbox).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { parse as parseCsv } from 'csv-parse/sync';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { PUBLIC_BASE_URL, type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let other: { accountId: string; apiKey: string };

beforeAll(async () => {
  stack = await startStack();
  other = await createAccount(stack.db, 'Another shop', TEST_ACCOUNT_ZONE);
});
afterAll(async () => {
  await stack?.stop();
});

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

const TEMPLATE = {
  currency: 'usd',
  description: 'Hello {name}, invoice {reference}',
  channels: ['email', 'sms'],
  reminders: { after_created: ['P3D'] },
  quiet_hours: { start: '21:00', end: '08:00' },
};

async function createCampaign(overrides: Record<string, unknown> = {}, key?: string) {
  const r = await stack.request('POST', '/v1/campaigns', {
    key,
    json: { name: 'Spring invoices', link: TEMPLATE, ...overrides },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; [k: string]: any };
}

/** A raw upload: CSV bytes (or anything) with the content type given. */
async function upload(
  campaignId: string,
  body: string | Uint8Array,
  opts: { type?: string; query?: string; key?: string } = {},
) {
  const res = await fetch(`${stack.baseUrl}/v1/campaigns/${campaignId}/recipients${opts.query ?? ''}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${opts.key ?? stack.account.apiKey}`,
      'content-type': opts.type ?? 'text/csv',
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A CSV upload streamed without Content-Length: `line` repeated until `maxBytes` or the server stops reading. */
async function streamUpload(
  campaignId: string,
  line: string,
  maxBytes: number,
  header = 'name,email,amount,reference\n',
) {
  const chunk = new TextEncoder().encode(line.repeat(Math.ceil(65_536 / line.length)));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(header));
    },
    pull(controller) {
      if (sent >= maxBytes) controller.close();
      else {
        sent += chunk.length;
        controller.enqueue(chunk);
      }
    },
  });
  const res = await fetch(`${stack.baseUrl}/v1/campaigns/${campaignId}/recipients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.account.apiKey}`, 'content-type': 'text/csv' },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as any, sent };
}

async function resultsCsv(campaignId: string, key = stack.account.apiKey) {
  const res = await fetch(`${stack.baseUrl}/v1/campaigns/${campaignId}/results.csv`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const recipientsOf = async (campaignId: string) =>
  stack.db('campaign_recipients').where({ campaign_id: campaignId }).orderBy('seq');

describe('creating a campaign', () => {
  it('stores a draft with the validated link template, schedule and throttle', async () => {
    const startAt = new Date(Date.now() + 3_600_000);
    const c = await createCampaign({
      schedule: { start_at: startAt.toISOString().replace('Z', '+00:00') },
      throttle: { links_per_second: 50, email_per_second: 10, sms_per_second: 0.5 },
    });
    expect(c).toMatchObject({
      object: 'campaign',
      name: 'Spring invoices',
      mode: 'per_recipient',
      status: 'draft',
      link: { ...TEMPLATE, currency: 'USD', max_payments: 1 },
      schedule: { start_at: startAt.toISOString() },
      throttle: { links_per_second: 50, email_per_second: 10, sms_per_second: 0.5 },
      recipients_count: 0,
    });
    expect(c.id).toMatch(/^cmp_/);
    const got = await stack.request('GET', `/v1/campaigns/${c.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: c.id, status: 'draft', link: c.link });
    expect(got.body.progress).toEqual({
      recipients: 0,
      recipients_by_status: { pending: 0, created: 0, failed: 0, cancelled: 0 },
      links_created: 0,
      links_sent: 0,
      messages_sent: 0,
      messages_delivered: 0,
      messages_failed: 0,
      by_channel: {},
      links_viewed: 0,
      links_paid: 0,
      payments_succeeded: 0,
      amount_collected: {},
      conversion_rate: null,
      median_time_to_pay_seconds: null,
    });
    const row = await stack.db('campaigns').where({ id: c.id }).first();
    expect(row).toMatchObject({ account_id: stack.account.accountId, status: 'draft' });
  });

  it('creates one campaign for one Idempotency-Key, however often the request is sent', async () => {
    const send = () =>
      stack.request('POST', '/v1/campaigns', {
        json: { name: 'Once', link: TEMPLATE },
        headers: { 'Idempotency-Key': 'campaign-once-1' },
      });
    const first = await send();
    const again = await send();
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(await stack.db('campaigns').where({ name: 'Once' })).toHaveLength(1);
  });

  it('accepts a local send time still ahead somewhere on earth, and single_link campaigns with unlimited payments', async () => {
    // Two days ahead: still to come in every zone at any hour (tomorrow 09:30 has passed in UTC+14 after 19:30 UTC).
    const local = await createCampaign({ schedule: { send_at_local: { date: day(2), time: '09:30' } } });
    expect(local.schedule).toEqual({ send_at_local: { date: day(2), time: '09:30' } });
    const single = await createCampaign({
      mode: 'single_link',
      link: { amount: 5000, currency: 'EUR', description: 'Charity gala ticket' },
    });
    expect(single).toMatchObject({ mode: 'single_link', link: { amount: 5000, max_payments: null } });
  });

  it.each([
    ['a start in the past', { schedule: { start_at: '2020-01-01T00:00:00Z' } }, 'schedule.start_at'],
    ['a start not a time', { schedule: { start_at: 'tomorrow' } }, 'schedule.start_at'],
    ['both kinds of schedule', { schedule: {} }, 'schedule'],
    ['a throttle of 0', { throttle: { links_per_second: 0 } }, 'throttle.links_per_second'],
    ['a negative throttle', { throttle: { sms_per_second: -2 } }, 'throttle.sms_per_second'],
    [
      'a bad local date',
      { schedule: { send_at_local: { date: '2026-13-01', time: '09:00' } } },
      'schedule.send_at_local.date',
    ],
    [
      'a bad local time',
      { schedule: { send_at_local: { date: day(1), time: '9am' } } },
      'schedule.send_at_local.time',
    ],
    [
      'a local time past in every zone',
      { schedule: { send_at_local: { date: day(-2), time: '23:59' } } },
      'schedule.send_at_local',
    ],
    ['an unknown placeholder', { link: { ...TEMPLATE, description: 'Hi {nmae}' } }, 'link.description'],
    ['an unmatched brace', { link: { ...TEMPLATE, description: 'Hi {name' } }, 'link.description'],
    ['a bad currency', { link: { ...TEMPLATE, currency: 'ZZZ' } }, 'link.currency'],
    [
      'a bad reminder',
      { link: { ...TEMPLATE, reminders: { after_created: ['soon'] } } },
      'link.reminders.after_created.0',
    ],
    [
      'a bad quiet hour',
      { link: { ...TEMPLATE, quiet_hours: { start: '25:00', end: '08:00' } } },
      'link.quiet_hours.start',
    ],
    ['an unknown mode', { mode: 'broadcast' }, 'mode'],
    ['an unknown link field', { link: { ...TEMPLATE, colour: 'red' } }, 'link.colour'],
    [
      'partial payments on a multi-use link',
      { link: { ...TEMPLATE, accept_partial: true, max_payments: 3 } },
      'link.accept_partial',
    ],
    [
      'a single_link campaign without amount',
      { mode: 'single_link', link: { currency: 'USD' } },
      'link.amount',
    ],
    [
      'a single_link campaign with channels',
      { mode: 'single_link', link: { amount: 100, currency: 'USD', channels: ['email'] } },
      'link.channels',
    ],
    ['no name', { name: undefined }, 'name'],
  ])('refuses %s with 400 naming the field, storing nothing', async (_what, overrides, param) => {
    const before = await stack.db('campaigns').count<{ count: string }[]>('* as count');
    const r = await stack.request('POST', '/v1/campaigns', {
      json: { name: 'Bad', link: TEMPLATE, ...overrides },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    const after = await stack.db('campaigns').count<{ count: string }[]>('* as count');
    expect(after[0]?.count).toBe(before[0]?.count);
  });

  it("lists the account's campaigns newest first, a page at a time", async () => {
    const a = await createCampaign({ name: 'List A' });
    const b = await createCampaign({ name: 'List B' });
    const first = await stack.request('GET', '/v1/campaigns?limit=1');
    expect(first.body).toMatchObject({ object: 'list', has_more: true, data: [{ id: b.id }] });
    const second = await stack.request('GET', `/v1/campaigns?limit=1&starting_after=${b.id}`);
    expect(second.body.data[0].id).toBe(a.id);
    expect((await stack.request('GET', '/v1/campaigns?status=running')).body.data).toEqual([]);
  });
});

const GOOD_AND_BAD = [
  'name,email,phone,amount,reference,metadata.tier',
  'Ada,ada@example.com,+14155550101,1200,INV-1,gold',
  'Bob,not-an-email,,1300,INV-2,',
  'Cy,,+1 415 555 0103,1400,INV-3,silver',
  'Dee,dee@example.com,,12.50,INV-4,',
  'Eve,,,1500,INV-5,',
  'Fay,fay@example.com,,1600,INV-6,gold,extra',
  'Ada again,ADA@Example.com,,1700,INV-7,',
  'Cy again,,+14155550103,1800,INV-8,',
  '"Gil, Jr.",gil@example.com,,1900,INV-9,"a ""quoted"" tier"',
  'Hal,hal@example.com,,2000,,',
  'Ida,ida@example.com,,2100,INV-9,',
].join('\r\n');

const EXPECTED_REJECTED = [
  { row: 2, column: 'email', reason: 'Invalid email address' },
  {
    row: 4,
    column: 'amount',
    reason: 'must be a whole number of minor units of the currency, such as 1250 for 12.50',
  },
  { row: 5, column: 'email', reason: 'required: give an email or a phone' },
  { row: 6, column: null, reason: 'has 7 fields; the header has 6' },
  { row: 10, column: 'reference', reason: "required: the link's description uses {reference}" },
];

describe('importing recipients from CSV', () => {
  it('keeps the good rows in file order, reports each bad row, skips duplicates; the same file again adds nothing', async () => {
    const c = await createCampaign();
    const r = await upload(c.id, GOOD_AND_BAD);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      object: 'recipient_import',
      accepted: 3,
      rejected: EXPECTED_REJECTED,
      rejected_count: 5,
      // Ada again (email, case aside), Cy again (the same phone written otherwise), Ida (reference INV-9).
      duplicates: 3,
      recipients_count: 3,
    });
    const rows = await recipientsOf(c.id);
    expect(
      rows.map((x) => [x.seq, x.name, x.email, x.phone, Number(x.amount), x.reference, x.metadata]),
    ).toEqual([
      [1, 'Ada', 'ada@example.com', '+14155550101', 1200, 'INV-1', { tier: 'gold' }],
      [2, 'Cy', null, '+14155550103', 1400, 'INV-3', { tier: 'silver' }],
      [3, 'Gil, Jr.', 'gil@example.com', null, 1900, 'INV-9', { tier: 'a "quoted" tier' }],
    ]);
    expect(rows.every((x) => x.status === 'pending' && x.account_id === stack.account.accountId)).toBe(true);

    const again = await upload(c.id, GOOD_AND_BAD);
    expect(again.body).toMatchObject({
      accepted: 0,
      rejected: EXPECTED_REJECTED,
      duplicates: 6,
      recipients_count: 3,
    });
    expect(await recipientsOf(c.id)).toHaveLength(3);
    expect((await stack.request('GET', `/v1/campaigns/${c.id}`)).body).toMatchObject({
      recipients_count: 3,
      progress: { recipients: 3, recipients_by_status: { pending: 3 } },
    });

    // A later file continues the numbering and skips whoever is already there.
    const more = await upload(
      c.id,
      'email,amount,name,reference\nada@example.com,1,A,R-1\nzed@example.com,2600,Zed,R-2\n',
    );
    expect(more.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
    expect((await recipientsOf(c.id)).map((x) => [x.seq, x.email])).toEqual([
      [1, 'ada@example.com'],
      [2, null],
      [3, 'gil@example.com'],
      [4, 'zed@example.com'],
    ]);
  });

  it('all_or_nothing: one bad row and nothing is kept (422 with the rows); a clean file is kept whole', async () => {
    const c = await createCampaign();
    const r = await upload(c.id, GOOD_AND_BAD, { query: '?all_or_nothing=true' });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({
      error: { type: 'invalid_request_error', code: 'recipients_rejected' },
      accepted: 0,
      rejected: EXPECTED_REJECTED,
    });
    expect(await recipientsOf(c.id)).toHaveLength(0);
    const clean = await upload(c.id, 'name,email,amount,reference\nAda,ada@example.com,100,A-1\n', {
      query: '?all_or_nothing=true',
    });
    expect(clean.body).toMatchObject({ accepted: 1, rejected: [], duplicates: 0 });
  });

  it.each([
    ['an unknown column', 'name,emial,amount,reference\n', 'emial', 'column_unknown'],
    ['no contact column', 'name,amount,reference\n', 'email', 'column_missing'],
    ['no amount column when the link has none', 'name,email,reference\n', 'amount', 'column_missing'],
    ['no column for a placeholder', 'name,email,amount\n', 'reference', 'column_missing'],
    ['a column twice', 'name,email,Email,amount,reference\n', 'email', 'column_duplicate'],
  ])('refuses %s with 400 naming the column', async (_what, header, param, code) => {
    const c = await createCampaign();
    const r = await upload(c.id, `${header}Ada,ada@example.com,100,R\n`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ param, code });
    expect(await recipientsOf(c.id)).toHaveLength(0);
  });

  it('refuses a file that is not UTF-8 (Latin-1 bytes, UTF-16) with 415; a UTF-8 byte order mark is fine', async () => {
    const c = await createCampaign();
    const latin1 = Buffer.from('name,email,amount,reference\nZo\xeb,zoe@example.com,100,R-1\n', 'latin1');
    const r1 = await upload(c.id, latin1);
    expect(r1.status).toBe(415);
    expect(r1.body.error).toMatchObject({ code: 'unsupported_encoding' });
    expect(r1.body.error.message).toContain('UTF-8');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,email\n', 'utf16le')]);
    expect((await upload(c.id, utf16)).status).toBe(415);
    expect((await upload(c.id, 'name,email\n', { type: 'text/csv; charset=iso-8859-1' })).status).toBe(415);
    const bom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('name,email,amount,reference\nZoë,zoe@example.com,100,R-1\n', 'utf8'),
    ]);
    expect((await upload(c.id, bom)).body).toMatchObject({ accepted: 1, rejected: [] });
    expect((await recipientsOf(c.id))[0]).toMatchObject({ name: 'Zoë', email: 'zoe@example.com' });
  });

  it('refuses a body over 20 MB with 413 and a clear message, storing nothing', async () => {
    const c = await createCampaign();
    const line = 'Somebody,somebody@example.com,100,R\n';
    const big = `name,email,amount,reference\n${line.repeat(Math.ceil((21 * 1024 * 1024) / line.length))}`;
    const r = await upload(c.id, big);
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'body_too_large' });
    expect(r.body.error.message).toContain('20 MB');
    expect(await recipientsOf(c.id)).toHaveLength(0);

    // Streamed without a length: refused once 20 MB have been read, not after the whole body.
    const long = `${'S'.repeat(200)},somebody@example.com,100,R\n`;
    const streamed = await streamUpload(c.id, long, 200 * 1024 * 1024);
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe('body_too_large');
    expect(streamed.sent).toBeLessThan(200 * 1024 * 1024);
    expect(await recipientsOf(c.id)).toHaveLength(0);
  });

  it('refuses more than 100,000 rows with 413, storing nothing', async () => {
    const c = await createCampaign({ link: { currency: 'USD', amount: 100 } });
    const r = await streamUpload(c.id, 'somebody@example.com\n', 4 * 1024 * 1024, 'email\n');
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'too_many_recipients' });
    expect(r.body.error.message).toContain('100,000');
    expect(await recipientsOf(c.id)).toHaveLength(0);
  });

  it('refuses a CSV that cannot be parsed with 400 and a content type it does not read with 415', async () => {
    const c = await createCampaign();
    const r = await upload(c.id, 'name,email,amount,reference\n"Ada,ada@example.com,100,R\n');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('csv_invalid');
    expect((await upload(c.id, '', { type: 'text/csv' })).body.error.code).toBe('csv_empty');
    expect((await upload(c.id, 'x', { type: 'application/xml' })).status).toBe(415);
  });
});

describe('importing recipients from JSON', () => {
  it('takes {"recipients": [...]} with the same rules and reports', async () => {
    const c = await createCampaign({
      link: { ...TEMPLATE, amount: 990, description: 'Dues for {metadata.club}' },
    });
    const r = await stack.request('POST', `/v1/campaigns/${c.id}/recipients`, {
      json: {
        recipients: [
          {
            name: 'Ada',
            email: 'ada@example.com',
            locale: 'fr-FR',
            timezone: 'Europe/Paris',
            metadata: { club: 'Chess' },
          },
          { email: 'bob@example.com', metadata: { club: 'Go' }, amount: 1500 },
          { email: 'nobody@example.com' },
          { email: 'c@example.com', amount: '12', metadata: { club: 'X' } },
          { email: 'd@example.com', timezone: 'Mars/Olympus', metadata: { club: 'X' } },
          { email: 'e@example.com', colour: 'red', metadata: { club: 'X' } },
          'not an object',
          { phone: '+44 20 7946 0958', metadata: { club: 'Bridge' } },
          { email: 'ADA@EXAMPLE.COM', metadata: { club: 'Chess' } },
        ],
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      accepted: 3,
      duplicates: 1,
      rejected: [
        { row: 3, column: 'metadata.club', reason: "required: the link's description uses {metadata.club}" },
        { row: 4, column: 'amount', reason: 'must be an integer' },
        { row: 5, column: 'timezone', reason: 'must be an IANA time zone such as "Europe/Paris"' },
        { row: 6, column: 'colour', reason: 'unknown field' },
        { row: 7, column: null, reason: 'must be an object' },
      ],
    });
    const rows = await recipientsOf(c.id);
    expect(
      rows.map((x) => [
        x.seq,
        x.email,
        x.phone,
        x.amount === null ? null : Number(x.amount),
        x.locale,
        x.timezone,
      ]),
    ).toEqual([
      [1, 'ada@example.com', null, null, 'fr-FR', 'Europe/Paris'],
      [2, 'bob@example.com', null, 1500, null, null],
      [3, null, '+442079460958', null, null, null],
    ]);
    const bad = await stack.request('POST', `/v1/campaigns/${c.id}/recipients`, { json: { people: [] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'parameter_missing', param: 'recipients' });
    const tooMany = await stack.request('POST', `/v1/campaigns/${c.id}/recipients`, {
      json: { recipients: Array.from({ length: 100_001 }, () => ({})) },
    });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('too_many_recipients');
  });

  it('numbers concurrent imports into one campaign without collision or gap', async () => {
    const c = await createCampaign({ link: { currency: 'USD', amount: 100 } });
    const batch = (prefix: string) => ({
      recipients: Array.from({ length: 300 }, (_, i) => ({ email: `${prefix}${i}@example.com` })),
    });
    const results = await Promise.all(
      ['a', 'b', 'c', 'a'].map((p) =>
        stack.request('POST', `/v1/campaigns/${c.id}/recipients`, { json: batch(p) }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(results.reduce((sum, r) => sum + r.body.accepted, 0)).toBe(900);
    expect(results.reduce((sum, r) => sum + r.body.duplicates, 0)).toBe(300);
    const rows = await recipientsOf(c.id);
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 900 }, (_, i) => i + 1));
    expect((await stack.db('campaigns').where({ id: c.id }).first()).recipients_count).toBe(900);
  });
});

describe('when a campaign takes recipients', () => {
  it('refuses recipients for a single_link campaign and once a campaign runs (409)', async () => {
    const single = await createCampaign({ mode: 'single_link', link: { amount: 100, currency: 'USD' } });
    const r = await upload(single.id, 'email\na@example.com\n');
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('campaign_single_link');

    const c = await createCampaign();
    // What the engine does when the campaign starts.
    await stack.db('campaigns').where({ id: c.id }).update({ status: 'running' });
    const late = await upload(c.id, 'name,email,amount,reference\nAda,ada@example.com,100,R\n');
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('campaign_not_editable');
    await stack.db('campaigns').where({ id: c.id }).update({ status: 'scheduled' });
    expect(
      (await upload(c.id, 'name,email,amount,reference\nAda,ada@example.com,100,R\n')).body.accepted,
    ).toBe(1);
  });

  it("never shows or changes another account's campaign (404)", async () => {
    const c = await createCampaign();
    const key = other.apiKey;
    expect((await stack.request('GET', `/v1/campaigns/${c.id}`, { key })).status).toBe(404);
    expect((await stack.request('GET', `/v1/campaigns/${c.id}/recipients`, { key })).status).toBe(404);
    expect((await resultsCsv(c.id, key)).status).toBe(404);
    const r = await upload(c.id, 'name,email,amount,reference\nAda,ada@example.com,100,R\n', { key });
    expect(r.status).toBe(404);
    expect(await recipientsOf(c.id)).toHaveLength(0);
    const list = await stack.request('GET', '/v1/campaigns?limit=100', { key });
    expect(list.body.data.map((x: { id: string }) => x.id)).not.toContain(c.id);
    expect((await stack.request('GET', '/v1/campaigns/cmp_nope', { key })).status).toBe(404);
    expect((await stack.request('GET', '/v1/campaigns/plink_wrongkind')).status).toBe(404);
  });
});

/** Opens a link's page and pays it in full through the sandbox checkout. */
async function payThroughSandbox(url: string) {
  const path = new URL(url).pathname;
  expect((await fetch(`${stack.baseUrl}${path}`)).status).toBe(200);
  const pay = await stack.postForm(`${path}/pay`, {});
  expect(pay.status).toBe(303);
  expect((await stack.postForm(pay.headers.get('location') as string, { outcome: 'succeed' })).status).toBe(
    303,
  );
}

/** twilio's signed status report for the message sent to `phone`. */
async function reportSms(phone: string, status: 'delivered' | 'failed') {
  const sms = await eventually(
    async () => stack.peers.twilio.messages.find((m) => m.to === phone),
    WAIT_MS,
    `an SMS to ${phone}`,
  );
  // The message is recorded as sent before a report about it can be applied.
  await eventually(
    async () =>
      (await stack
        .db('notifications')
        .where({ provider_message_id: sms.sid })
        .whereNotNull('sent_at')
        .first()) ?? undefined,
    WAIT_MS,
    `the SMS to ${phone} recorded as sent`,
  );
  const callbackUrl = `${PUBLIC_BASE_URL}/v1/callbacks/twilio/status`;
  const params = {
    MessageSid: sms.sid,
    MessageStatus: status,
    AccountSid: stack.peers.twilio.accountSid,
    To: phone,
  };
  const signature = twilio.getExpectedTwilioSignature(stack.twilioAuthToken as string, callbackUrl, params);
  const res = await fetch(`${stack.baseUrl}/v1/callbacks/twilio/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  expect(res.status).toBe(204);
}

describe('progress and results', () => {
  it("counts what the campaign's links did, matching their rows, and lists it per recipient in results.csv", async () => {
    const c = await createCampaign({
      link: { currency: 'USD', amount: 2500, description: 'Dues for {name}', channels: ['email'] },
    });
    const imported = await upload(
      c.id,
      'name,email,phone\nAda,ada.progress@example.com,+14155550111\n=cmd(),bob.progress@example.com,\n',
    );
    expect(imported.body.accepted).toBe(2);
    // What the engine does: a link per recipient, made through the link API with the campaign's id.
    const recipients = await recipientsOf(c.id);
    const links = [];
    for (const r of recipients) {
      const made = await stack.request('POST', '/v1/payment_links', {
        json: {
          amount: 2500,
          currency: 'USD',
          description: `Dues for ${r.name}`,
          customer: { name: r.name, email: r.email },
          channels: ['email'],
          campaign_id: c.id,
        },
      });
      expect(made.status).toBe(201);
      await stack.db('campaign_recipients').where({ campaign_id: c.id, seq: r.seq }).update({
        link_id: made.body.id,
        status: 'created',
      });
      links.push(made.body as { id: string; url: string });
    }
    const [paid, open] = links as [{ id: string; url: string }, { id: string; url: string }];
    // A link unrelated to the campaign is not counted.
    expect(
      (await stack.request('POST', '/v1/payment_links', { json: { amount: 1, currency: 'USD' } })).status,
    ).toBe(201);

    await eventually(
      async () =>
        (
          await stack
            .db('link_events')
            .whereIn('link_id', [paid.id, open.id])
            .where({ type: 'payment_link.sent' })
        ).length === 2 || undefined,
      WAIT_MS,
      'both links sent',
    );
    await payThroughSandbox(paid.url);
    await stack.untilStatus(`/v1/payment_links/${paid.id}`, 'paid');

    // Counted from the rows the links left, then compared with what the API says.
    const progress = await eventually(
      async () => {
        const ids = [paid.id, open.id];
        const messages = await stack.db('notifications').whereIn('link_id', ids);
        const body = (await stack.request('GET', `/v1/campaigns/${c.id}`)).body;
        const sent = messages.filter((m) => m.sent_at !== null).length;
        // Two links and the paid one's receipt, all handed to the mail server.
        return sent === 3 && body.progress.messages_sent === sent ? { body, messages } : undefined;
      },
      WAIT_MS,
      'progress to count every message',
    );
    const analytics = await stack.db('link_analytics').where({ link_id: paid.id }).first();
    const emails = progress.messages.filter((m) => m.channel === 'email');
    expect(progress.body.progress).toEqual({
      recipients: 2,
      recipients_by_status: { pending: 0, created: 2, failed: 0, cancelled: 0 },
      links_created: 2,
      links_sent: 2,
      messages_sent: emails.filter((m) => m.sent_at !== null).length,
      messages_delivered: 0,
      messages_failed: 0,
      by_channel: {
        email: { sent: emails.filter((m) => m.sent_at !== null).length, delivered: 0, failed: 0 },
      },
      links_viewed: 1,
      links_paid: 1,
      payments_succeeded: 1,
      amount_collected: { USD: 2500 },
      conversion_rate: 0.5,
      median_time_to_pay_seconds: Math.round(analytics.seconds_to_pay * 1000) / 1000,
    });
    expect(progress.messages.map((m) => m.message_type).sort()).toEqual(['link', 'link', 'receipt']);
    expect(analytics.seconds_to_pay).toBeGreaterThan(0);

    const page = await stack.request('GET', `/v1/campaigns/${c.id}/recipients?link_status=paid`);
    expect(page.body).toMatchObject({
      object: 'list',
      has_more: false,
      data: [
        {
          seq: 1,
          email: 'ada.progress@example.com',
          link_id: paid.id,
          link_status: 'paid',
          amount_paid: 2500,
        },
      ],
    });
    const first = await stack.request('GET', `/v1/campaigns/${c.id}/recipients?limit=1`);
    expect(first.body).toMatchObject({ has_more: true, data: [{ seq: 1 }] });
    const second = await stack.request('GET', `/v1/campaigns/${c.id}/recipients?limit=1&starting_after=1`);
    expect(second.body).toMatchObject({
      has_more: false,
      data: [{ seq: 2, link_status: 'active', amount_paid: 0 }],
    });
    expect((await stack.request('GET', `/v1/campaigns/${c.id}/recipients?status=pending`)).body.data).toEqual(
      [],
    );

    const csv = await resultsCsv(c.id);
    expect(csv.status).toBe(200);
    expect(csv.type).toContain('text/csv');
    const rows = parseCsv(csv.text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2);
    const sentOf = (id: string) =>
      String(progress.messages.filter((m) => m.link_id === id && m.sent_at !== null).length);
    expect(rows[0]).toMatchObject({
      seq: '1',
      name: 'Ada',
      email: 'ada.progress@example.com',
      phone: '+14155550111',
      amount: '2500',
      currency: 'USD',
      recipient_status: 'created',
      link_id: paid.id,
      url: paid.url,
      link_status: 'paid',
      messages_sent: sentOf(paid.id),
      viewed: 'true',
      amount_paid: '2500',
      paid_at: new Date(analytics.paid_at).toISOString(),
    });
    expect(rows[1]).toMatchObject({
      seq: '2',
      // A name a spreadsheet would run as a formula is made inert.
      name: "'=cmd()",
      link_id: open.id,
      url: open.url,
      link_status: 'active',
      messages_sent: sentOf(open.id),
      viewed: 'false',
      viewed_at: '',
      amount_paid: '0',
      paid_at: '',
    });
    expect(paid.url.startsWith(`${PUBLIC_BASE_URL}/l/`)).toBe(true);
  });

  it('makes every text column of results.csv inert in a spreadsheet, and keeps an E.164 phone as it is', async () => {
    const c = await createCampaign({ link: { currency: 'USD', amount: 700, channels: ['email'] } });
    // Valid addresses a spreadsheet would still evaluate: a local part may start with - or +.
    const imported = await upload(
      c.id,
      'name,email,phone,reference\n' +
        '+Eve,-2+3@example.com,+14155550112,@SUM(1+1)\n' +
        '-Mallory,+1+1@example.com,,-1+2\n',
    );
    expect(imported.body.accepted, JSON.stringify(imported.body)).toBe(2);
    const csv = await resultsCsv(c.id);
    expect(csv.status).toBe(200);
    const rows = parseCsv(csv.text, { columns: true }) as Record<string, string>[];
    expect(rows.map(({ name, email, phone, reference }) => ({ name, email, phone, reference }))).toEqual([
      // A phone in E.164 (+ and digits) is a number to a spreadsheet, never a formula: unchanged.
      { name: "'+Eve", email: "'-2+3@example.com", phone: '+14155550112', reference: "'@SUM(1+1)" },
      { name: "'-Mallory", email: "'+1+1@example.com", phone: '', reference: "'-1+2" },
    ]);
    // The API's own JSON is not a spreadsheet: it keeps what was imported.
    const page = await stack.request('GET', `/v1/campaigns/${c.id}/recipients`);
    expect(page.body.data.map((r: { email: string }) => r.email)).toEqual([
      '-2+3@example.com',
      '+1+1@example.com',
    ]);
  });

  it('counts SMS delivered and failed as twilio reports them', async () => {
    const c = await createCampaign({ link: { currency: 'USD', amount: 300, channels: ['sms'] } });
    const phones = ['+14155550171', '+14155550172'];
    for (const phone of phones) {
      const made = await stack.request('POST', '/v1/payment_links', {
        json: { amount: 300, currency: 'USD', customer: { phone }, channels: ['sms'], campaign_id: c.id },
      });
      expect(made.status).toBe(201);
    }
    await reportSms(phones[0] as string, 'delivered');
    await reportSms(phones[1] as string, 'failed');
    const progress = await eventually(
      async () => {
        const p = (await stack.request('GET', `/v1/campaigns/${c.id}`)).body.progress;
        return p.messages_delivered === 1 && p.messages_failed === 1 ? p : undefined;
      },
      WAIT_MS,
      'the reports to be counted',
    );
    expect(progress).toMatchObject({
      links_created: 2,
      messages_sent: 2,
      messages_delivered: 1,
      messages_failed: 1,
      by_channel: { sms: { sent: 2, delivered: 1, failed: 1 } },
    });
    // The counts are those of the rows.
    const rows = await stack
      .db('notifications as n')
      .join('payment_links as l', 'l.id', 'n.link_id')
      .where('l.campaign_id', c.id)
      .select('n.status', 'n.sent_at');
    expect(rows.map((r) => r.status).sort()).toEqual(['delivered', 'failed']);
    expect(rows.every((r) => r.sent_at !== null)).toBe(true);
  });

  it('lists one row per payment in a single_link campaign', async () => {
    const c = await createCampaign({ mode: 'single_link', link: { amount: 700, currency: 'USD' } });
    const link = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 700, currency: 'USD', max_payments: null, campaign_id: c.id },
    });
    expect(link.status).toBe(201);
    await stack
      .db('campaigns')
      .where({ id: c.id })
      .update({ single_link_id: link.body.id, status: 'running' });
    await payThroughSandbox(link.body.url);
    await eventually(
      async () => (await stack.db('payments').where({ link_id: link.body.id })).length === 1 || undefined,
      WAIT_MS,
      'the first payment',
    );
    await payThroughSandbox(link.body.url);
    const payments = await eventually(
      async () => {
        const found = await stack.db('payments').where({ link_id: link.body.id }).orderBy('created_at');
        return found.length === 2 ? found : undefined;
      },
      WAIT_MS,
      'two payments',
    );
    const rows = parseCsv((await resultsCsv(c.id)).text, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.payment_id, r.link_id, r.url, r.status, r.amount, r.currency])).toEqual(
      payments.map((p) => [p.id, link.body.id, link.body.url, 'succeeded', '700', 'USD']),
    );
    const progress = (await stack.request('GET', `/v1/campaigns/${c.id}`)).body.progress;
    expect(progress).toMatchObject({
      recipients: 0,
      links_created: 1,
      payments_succeeded: 2,
      amount_collected: { USD: 1400 },
    });
  });
});

describe('OpenAPI', () => {
  it('documents the campaign endpoints in a valid document', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as any;
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    for (const path of [
      '/v1/campaigns',
      '/v1/campaigns/{id}',
      '/v1/campaigns/{id}/recipients',
      '/v1/campaigns/{id}/results.csv',
    ])
      expect(doc.paths[path], path).toBeDefined();
    const create = doc.paths['/v1/campaigns'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(create.properties)).toEqual(['name', 'mode', 'link', 'schedule', 'throttle']);
    expect(Object.keys(doc.paths['/v1/campaigns/{id}/recipients'].post.requestBody.content)).toEqual([
      'text/csv',
      'application/json',
    ]);
  });
});
