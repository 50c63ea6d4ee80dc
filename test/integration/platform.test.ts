/**
 * The platform slice over HTTP: a link is created through the API, stored by its workflow,
 * and expires on time in Postgres, in its timeline and in its LinkStatus search attribute.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { createDb } from '../../src/db/knex';
import { SearchAttributes } from '../../workflows/payment-link/contract';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { listenTestApi, PUBLIC_BASE_URL, type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const linkCount = async () => Number((await stack.db('payment_links').count('* as n'))[0]?.n);

describe('POST /v1/payment_links', () => {
  it('stores the link, starts its workflow, and expires it on time', async () => {
    const created = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 1999, currency: 'USD', description: 'Invoice 42', expires_in: 'PT3S' },
    });
    expect(created.status).toBe(201);
    const link = created.body;
    expect(link).toMatchObject({ object: 'payment_link', status: 'active', amount: 1999, currency: 'USD' });
    expect(link.id).toMatch(/^plink_/);
    const token = link.url.slice(`${PUBLIC_BASE_URL}/l/`.length);
    expect(link.url).toBe(`${PUBLIC_BASE_URL}/l/${token}`);
    expect(Buffer.from(token, 'base64url').length * 8).toBeGreaterThanOrEqual(128);

    // Read-your-writes: the row exists as soon as the API answered.
    const fetched = await stack.request('GET', `/v1/payment_links/${link.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({ id: link.id, status: 'active', description: 'Invoice 42' });

    const handle = stack.temporal.workflow.getHandle(link.id);
    const running = await handle.describe();
    expect(running.status.name).toBe('RUNNING');
    expect(running.typedSearchAttributes.get(SearchAttributes.LinkStatus)).toBe('active');

    const expired = await eventually(
      async () => {
        const r = await stack.request('GET', `/v1/payment_links/${link.id}`);
        return r.body.status === 'expired' ? r.body : undefined;
      },
      WAIT_MS,
      'the link to expire',
    );
    // On time: not before its expiry, and within seconds of it (a timer, not a sweep).
    const lateness = new Date(expired.closed_at).getTime() - new Date(link.expires_at).getTime();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(5000);

    const events = await stack.request('GET', `/v1/payment_links/${link.id}/events`);
    expect(events.body.data.map((e: { type: string }) => e.type)).toEqual([
      'payment_link.created',
      'payment_link.expired',
    ]);

    const attribute = await eventually(
      async () => {
        const desc = await handle.describe();
        const value = desc.typedSearchAttributes.get(SearchAttributes.LinkStatus);
        return value === 'expired' ? value : undefined;
      },
      WAIT_MS,
      'LinkStatus=expired',
    );
    expect(attribute).toBe('expired');
    const listed = await eventually(
      async () => {
        const n = (
          await stack.temporal.workflow.count(
            `LinkStatus = 'expired' AND AccountId = '${stack.account.accountId}'`,
          )
        ).count;
        return n === 1 ? n : undefined;
      },
      WAIT_MS,
      'visibility to list the expired link',
    );
    expect(listed).toBe(1);
  });

  it('accepts every lifecycle field, with currency exponents from ISO 4217', async () => {
    // A link for an invoice is for one of the account's own, in its currency.
    const invoice = await stack.request('POST', '/v1/invoices', {
      json: { number: 'INV-7', amount_due: 12_345, currency: 'KWD', due_date: '2030-01-01' },
    });
    expect(invoice.status).toBe(201);
    const r = await stack.request('POST', '/v1/payment_links', {
      json: {
        amount: 12_345,
        currency: 'KWD', // three decimals
        description: 'Order 7',
        line_items: [
          { name: 'Dates', quantity: 3, unit_amount: 4000 },
          { name: 'Delivery', quantity: 1, unit_amount: 345 },
        ],
        reference: 'ORD-7',
        customer: {
          name: 'Layla',
          email: 'layla@example.com',
          phone: '+96550001234',
          locale: 'ar-KW',
          timezone: 'Asia/Kuwait',
        },
        expires_in: 'P7D',
        accept_partial: true,
        min_partial_amount: 1000,
        channels: ['email', 'sms'],
        reminders: { after_created: ['P1D'], before_expiry: ['PT24H'] },
        quiet_hours: { start: '22:00', end: '09:00' },
        invoice_id: invoice.body.id,
        campaign_id: 'cmp_7',
        metadata: { crm: '42' },
        success_url: 'https://shop.example/thanks',
      },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      amount: 12_345,
      currency: 'KWD',
      line_items: [
        { name: 'Dates', quantity: 3, unit_amount: 4000 },
        { name: 'Delivery', quantity: 1, unit_amount: 345 },
      ],
      timezone: 'Asia/Kuwait',
      max_payments: 1,
      accept_partial: true,
      min_partial_amount: 1000,
      channels: ['email', 'sms'],
      reminders: { after_created: ['P1D'], before_expiry: ['PT24H'] },
      quiet_hours: { start: '22:00', end: '09:00' },
      invoice_id: invoice.body.id,
      metadata: { crm: '42' },
    });
    const handle = stack.temporal.workflow.getHandle(r.body.id);
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect(attributes.get(SearchAttributes.InvoiceId)).toBe(invoice.body.id);
    expect(attributes.get(SearchAttributes.CampaignId)).toBe('cmp_7');
    expect(attributes.get(SearchAttributes.AccountId)).toBe(stack.account.accountId);
  });

  it('accepts an absolute expires_at', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const r = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 500, currency: 'eur', expires_at: expiresAt },
    });
    expect(r.status).toBe(201);
    expect(r.body.currency).toBe('EUR');
    expect(r.body.expires_at).toBe(expiresAt);
  });

  describe('rejects bad requests, storing nothing and starting no workflow', () => {
    const cases: [
      string,
      { key?: string | null; json?: unknown; raw?: string },
      number,
      string | undefined,
      RegExp,
    ][] = [
      ['missing key', { key: null, json: { amount: 1, currency: 'USD' } }, 401, undefined, /Missing API key/],
      [
        'wrong key',
        { key: 'plk_wrong', json: { amount: 1, currency: 'USD' } },
        401,
        undefined,
        /Invalid API key/,
      ],
      ['malformed JSON', { raw: '{"amount": 1999,' }, 400, undefined, /not valid JSON/],
      ['missing amount', { json: { currency: 'USD' } }, 400, 'amount', /amount/],
      ['string amount', { json: { amount: '1999', currency: 'USD' } }, 400, 'amount', /amount/],
      ['fractional amount', { json: { amount: 19.99, currency: 'USD' } }, 400, 'amount', /amount/],
      ['zero amount', { json: { amount: 0, currency: 'USD' } }, 400, 'amount', /amount/],
      ['negative amount', { json: { amount: -5, currency: 'USD' } }, 400, 'amount', /amount/],
      ['missing currency', { json: { amount: 100 } }, 400, 'currency', /currency/],
      ['unknown currency', { json: { amount: 100, currency: 'ABC' } }, 400, 'currency', /ISO 4217/],
      [
        'unknown field',
        { json: { amount: 100, currency: 'USD', colour: 'red' } },
        400,
        'colour',
        /unknown parameter/,
      ],
      [
        'expiry in the past',
        { json: { amount: 100, currency: 'USD', expires_at: '2020-01-01T00:00:00Z' } },
        400,
        'expires_at',
        /future/,
      ],
      [
        'expiry beyond a year',
        { json: { amount: 100, currency: 'USD', expires_in: 'P2Y' } },
        400,
        'expires_in',
        /at most a year/,
      ],
      [
        'bad duration',
        { json: { amount: 100, currency: 'USD', expires_in: '30 seconds' } },
        400,
        'expires_in',
        /ISO 8601/,
      ],
      ['array body', { raw: '[1,2]' }, 400, undefined, /JSON object/],
      [
        'line items not adding up',
        {
          json: {
            amount: 1000,
            currency: 'USD',
            line_items: [{ name: 'Tea', quantity: 2, unit_amount: 300 }],
          },
        },
        400,
        'line_items',
        /total 600/,
      ],
      [
        'eleven reminders',
        { json: { amount: 100, currency: 'USD', reminders: { after_created: Array(11).fill('P1D') } } },
        400,
        'reminders',
        /at most 10/,
      ],
      [
        'bad reminder offset',
        { json: { amount: 100, currency: 'USD', reminders: { before_expiry: ['tomorrow'] } } },
        400,
        'reminders.before_expiry.0',
        /ISO 8601/,
      ],
      [
        '51 metadata keys',
        {
          json: {
            amount: 100,
            currency: 'USD',
            metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
          },
        },
        400,
        'metadata',
        /at most 50/,
      ],
      [
        'metadata value too long',
        { json: { amount: 100, currency: 'USD', metadata: { note: 'x'.repeat(501) } } },
        400,
        'metadata.note',
        /500/,
      ],
      [
        'partial payments on a multi-use link',
        { json: { amount: 100, currency: 'USD', max_payments: 3, accept_partial: true } },
        400,
        'accept_partial',
        /single-use/,
      ],
      [
        'minimum partial without partial payments',
        { json: { amount: 100, currency: 'USD', min_partial_amount: 10 } },
        400,
        'min_partial_amount',
        /accept_partial/,
      ],
      [
        'email channel without an address',
        { json: { amount: 100, currency: 'USD', channels: ['email'] } },
        400,
        'customer.email',
        /required/,
      ],
      [
        'unknown channel',
        { json: { amount: 100, currency: 'USD', channels: ['fax'] } },
        400,
        'channels.0',
        /channels/,
      ],
      [
        'phone not E.164',
        { json: { amount: 100, currency: 'USD', customer: { phone: '0612345678' } } },
        400,
        'customer.phone',
        /E\.164/,
      ],
      [
        'unknown time zone',
        { json: { amount: 100, currency: 'USD', customer: { timezone: 'Mars/Olympus' } } },
        400,
        'customer.timezone',
        /IANA/,
      ],
      [
        'quiet hours not HH:MM',
        { json: { amount: 100, currency: 'USD', quiet_hours: { start: '9pm', end: '08:00' } } },
        400,
        'quiet_hours.start',
        /HH:MM/,
      ],
      [
        'reference over 64 characters',
        { json: { amount: 100, currency: 'USD', reference: 'r'.repeat(65) } },
        400,
        'reference',
        /reference/,
      ],
      [
        'success_url not http(s)',
        { json: { amount: 100, currency: 'USD', success_url: 'javascript:alert(1)' } },
        400,
        'success_url',
        /success_url/,
      ],
      [
        'both expires_at and expires_in',
        { json: { amount: 100, currency: 'USD', expires_in: 'P1D', expires_at: '2030-01-01T00:00:00Z' } },
        400,
        'expires_in',
        /not both/,
      ],
      [
        'a duration beyond a year',
        { json: { amount: 100, currency: 'USD', expires_in: 'P300000Y' } },
        400,
        'expires_in',
        /at most a year/,
      ],
      [
        'max_payments beyond 32 bits',
        { json: { amount: 100, currency: 'USD', max_payments: 3_000_000_000 } },
        400,
        'max_payments',
        /max_payments/,
      ],
      [
        'a NUL character in text',
        { json: { amount: 100, currency: 'USD', description: 'a\u0000b' } },
        400,
        'description',
        /NUL/,
      ],
      [
        'max_payments zero',
        { json: { amount: 100, currency: 'USD', max_payments: 0 } },
        400,
        'max_payments',
        /max_payments/,
      ],
    ];
    for (const [name, req, status, param, message] of cases) {
      it(name, async () => {
        const r = await stack.request('POST', '/v1/payment_links', req);
        expect(r.status).toBe(status);
        expect(r.body.error.message).toMatch(message);
        expect(r.body.error.type).toEqual(expect.any(String));
        expect(r.body.error.code).toEqual(expect.any(String));
        if (param) expect(r.body.error.param).toBe(param);
      });
    }

    it('left no row and no workflow behind', async () => {
      const rowsBefore = await linkCount();
      const good = await stack.request('POST', '/v1/payment_links', {
        json: { amount: 100, currency: 'USD' },
      });
      expect(good.status).toBe(201);
      expect(await linkCount()).toBe(rowsBefore + 1);
      // Visibility is eventually consistent: wait until the good link is listed, then count all.
      const query = `AccountId = '${stack.account.accountId}'`;
      const listed = await eventually(
        async () => {
          const ids: string[] = [];
          for await (const wf of stack.temporal.workflow.list({ query })) ids.push(wf.workflowId);
          return ids.includes(good.body.id) ? ids : undefined;
        },
        WAIT_MS,
        'the good link in visibility',
      );
      expect(listed.length).toBe(rowsBefore + 1);
    });
  });

  it('gives 409 for a reference the account already used', async () => {
    const first = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'USD', reference: 'INV-2026-001' },
    });
    expect(first.status).toBe(201);
    const again = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'USD', reference: 'INV-2026-001' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'reference_taken', param: 'reference' });
  });

  it('gives 404 for another account’s link, its events, and an unknown id', async () => {
    const other = await createAccount(stack.db, 'Another shop', TEST_ACCOUNT_ZONE);
    const theirs = await stack.request('POST', '/v1/payment_links', {
      key: other.apiKey,
      json: { amount: 700, currency: 'GBP' },
    });
    expect(theirs.status).toBe(201);
    expect(
      (await stack.request('GET', `/v1/payment_links/${theirs.body.id}`, { key: other.apiKey })).status,
    ).toBe(200);
    for (const path of [
      `/v1/payment_links/${theirs.body.id}`,
      `/v1/payment_links/${theirs.body.id}/events`,
    ]) {
      const mine = await stack.request('GET', path);
      expect(mine.status).toBe(404);
      expect(mine.body.error.code).toBe('resource_missing');
      expect(JSON.stringify(mine.body)).not.toContain('GBP');
    }
    expect((await stack.request('GET', '/v1/payment_links/plink_doesnotexist')).status).toBe(404);
  });
});

describe('malformed requests never get a 500', () => {
  it('a badly encoded URL is a 400', async () => {
    for (const path of ['/l/%E0/qr.png', '/u/%E0', '/v1/payment_links/%E0']) {
      const res = await fetch(`${stack.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${stack.account.apiKey}` },
      });
      expect(res.status, path).toBe(400);
    }
  });

  it('a twilio callback that is not a form is refused, not crashed on', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/callbacks/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-twilio-signature': 'abc' },
      body: '{"MessageSid":"SM1"}',
    });
    expect(res.status).toBe(403);
  });
});

describe('probes', () => {
  it('/healthz and /readyz answer when everything is up', async () => {
    expect((await stack.request('GET', '/healthz', { key: null })).status).toBe(200);
    const ready = await stack.request('GET', '/readyz', { key: null });
    expect(ready).toEqual({
      status: 200,
      body: { status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } },
    });
  });

  it('/readyz turns 503 when Postgres is unreachable', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/paylinks');
    const api = await listenTestApi({ db: deadDb, temporal: stack.temporal, taskQueue: stack.taskQueue });
    try {
      const res = await fetch(`${api.baseUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'unavailable',
        checks: { postgres: 'unreachable', temporal: 'ok' },
      });
    } finally {
      await api.close();
      await deadDb.destroy();
    }
  });
});
