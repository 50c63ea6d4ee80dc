/**
 * Requests generated with fast-check over every route (the management API with a valid key, the
 * public pages, the provider and twilio callbacks): valid shapes with hostile values in them
 * (lone surrogates, NUL, huge strings, wrong types, malformed ids, dates and amounts out of
 * range, odd content types). The same seed gives the same requests. Checked: no 5xx, no answer
 * slower than a few seconds, no junk row (text that is not well-formed Unicode or holds NUL; a
 * row no 2xx answer accounts for), no link workflow that failed.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import twilio from 'twilio';
import { SIGNATURE_HEADER, signPayload } from '../../src/signing';
import { api, fromClient, openSession, send, type Target, tokenOf } from './target';
import { until } from './wait';

export interface FuzzTarget extends Target {
  /** Verifies twilio status callbacks; undefined: they are all refused. */
  twilioAuthToken?: string;
  /** The base the API believes it is served at (twilio signs URLs under it). */
  publicBaseUrl: string;
}

export interface FuzzOptions {
  seed: number;
  requests: number;
  concurrency?: number;
  /** An answer slower than this is a hang. */
  slowMs?: number;
}

export interface FuzzRequest {
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Fixtures {
  linkId: string;
  token: string;
  customerId: string;
  invoiceId: string;
  orderId: string;
  sessionId: string;
  paymentId: string;
  unsubscribeToken: string;
}

// ---- hostile values ----

const LONE_SURROGATES = ['\ud800', '\udfff', 'a\ud83d', '\ude00b', 'x\udbff\udbffy'];
const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...LONE_SURROGATES),
  fc.string().map((s) => `${s}\u0000${s}`),
  fc.constantFrom('\u0000', 'abc\u0000', '%00', '\\u0000'),
  fc.constantFrom('x'.repeat(70_000), 'é'.repeat(5_000), '😀'.repeat(3_000)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\t\n',
    '../../etc/passwd',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    '$'.concat('{7*7}'),
  ),
);
const hostileDate = fc.constantFrom(
  '0000-01-01',
  '-000001-01-01',
  '0001-01-01',
  '9999-12-31',
  '10000-01-01',
  '275760-09-13',
  '2026-02-30',
  '2026-13-01',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '+275760-09-13T00:00:00.000Z',
  '1970-01-01T00:00:00+25:00',
  '2026-01-01T00:00:00\u0000Z',
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER + 2),
  fc.integer(),
  fc.double({ noNaN: true }),
);
const wrongType = fc.constantFrom<unknown>(null, true, [], {}, [1, 'a'], { $gt: '' }, '1', 'NaN', 'Infinity');
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileDate },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 2, arbitrary: wrongType },
);

/** An id in a path or a query: a real one, a well-shaped unknown one, or hostile text. */
const idLike = (real: string, prefix: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(real) },
    { weight: 1, arbitrary: fc.constant(`${prefix}_AAAAAAAAAAAAAAAA`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `${real}\u0000`,
        `${real}\ud800`,
        `${prefix}_`,
        prefix,
        `${real}${'x'.repeat(5000)}`,
      ),
    },
    { weight: 2, arbitrary: hostileString },
  );

/**
 * A path segment as a client may send it: well-formed text percent-encoded, and also the
 * encodings no well-formed string has (a NUL, a surrogate's CESU-8 bytes, a stray byte).
 */
function segment(s: string): string {
  const wellFormed = s.isWellFormed() ? s : s.toWellFormed();
  let out = encodeURIComponent(wellFormed);
  if (!s.isWellFormed()) out += '%ED%A0%80';
  return out.replaceAll('%EF%BF%BD', '%ED%A0%80');
}
const rawSegment = fc.constantFrom('%00', '%ED%A0%80', '%FF', '%', '%E0%A4%A', '..%2F..%2F');

/** Replaces a few fields of a valid body, at any depth, by hostile values (or adds unknown ones). */
function mutated(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (value: unknown, path: string[]) => {
    if (path.length > 0) paths.push(path);
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, [...path, k]);
  };
  walk(template, []);
  const set = (root: unknown, path: string[], value: unknown): unknown => {
    if (path.length === 0) return value;
    const [head, ...rest] = path as [string, ...string[]];
    const copy: Record<string, unknown> = Array.isArray(root)
      ? ([...root] as unknown as Record<string, unknown>)
      : { ...(root as Record<string, unknown>) };
    copy[head] = set(copy[head], rest, value);
    return copy;
  };
  const mutation = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...paths), hostile) },
    // A hostile key next to valid ones (metadata keys, unknown fields).
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...LONE_SURROGATES, '\u0000', 'unknown_field'), hostile)
        .map(([k, v]) => [['metadata', k], v] as [string[], unknown]),
    },
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(template) },
    {
      weight: 8,
      arbitrary: fc
        .array(mutation, { minLength: 1, maxLength: 3 })
        .map((ms) => ms.reduce<unknown>((body, [path, value]) => set(body, path, value), template)),
    },
    { weight: 1, arbitrary: hostile },
  );
}

/** The serialisation of a body: JSON mostly, else broken JSON or another content type. */
const bodyText = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: body.map((b) => ({ text: JSON.stringify(b) ?? 'null', type: 'application/json' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          body,
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/json; charset=utf-16',
            'application/xml',
          ),
        )
        .map(([b, type]) => ({ text: JSON.stringify(b) ?? '', type })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { text: '{"amount": 1,', type: 'application/json' },
        { text: '\u0000', type: 'application/json' },
        { text: '{"a":"\\ud800"}', type: 'application/json' },
        { text: `{"a":"${'x'.repeat(100_000)}"}`, type: 'application/json' },
      ),
    },
  );

const queryOf = (entries: [string, unknown][]) =>
  entries.length === 0
    ? ''
    : `?${entries.map(([k, v]) => `${segment(k)}=${typeof v === 'string' ? segment(v) : segment(JSON.stringify(v) ?? '')}`).join('&')}`;

// ---- the routes ----

function routes(f: Fixtures, target: FuzzTarget): fc.Arbitrary<FuzzRequest>[] {
  const auth = { authorization: `Bearer ${target.apiKey}` };
  const json = (
    route: string,
    method: string,
    path: fc.Arbitrary<string>,
    template?: Record<string, unknown>,
  ) =>
    (template
      ? fc.tuple(path, bodyText(mutated(template))).map(([p, b]) => ({
          route,
          method,
          path: p,
          headers: { ...auth, 'content-type': b.type },
          body: b.text,
        }))
      : path.map((p) => ({ route, method, path: p, headers: { ...auth } }))) as fc.Arbitrary<FuzzRequest>;
  const withQuery = (base: string, params: Record<string, fc.Arbitrary<unknown>>) =>
    fc
      .subarray(Object.keys(params))
      .chain((keys) =>
        fc.tuple(
          ...keys.map((k) => fc.tuple(fc.constant(k), fc.oneof(params[k] as fc.Arbitrary<unknown>, hostile))),
        ),
      )
      .map((entries) => `${base}${queryOf(entries as [string, unknown][])}`);
  const idPath = (prefixPath: string, real: string, prefix: string, suffix = '') =>
    fc.oneof(
      { weight: 5, arbitrary: idLike(real, prefix).map((id) => `${prefixPath}/${segment(id)}${suffix}`) },
      { weight: 1, arbitrary: rawSegment.map((s) => `${prefixPath}/${s}${suffix}`) },
    );
  const linkPath = (suffix = '') => idPath('/v1/payment_links', f.linkId, 'plink', suffix);
  const page = {
    limit: fc.oneof(fc.integer({ min: -5, max: 200 }), hostile),
    starting_after: idLike(f.linkId, 'plink'),
  };
  const future = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const linkTemplate = {
    amount: 1500,
    currency: 'EUR',
    description: 'Fuzzed link',
    line_items: [{ name: 'Thing', quantity: 1, unit_amount: 1500 }],
    reference: 'ref-1',
    customer: {
      name: 'Ada',
      email: 'ada@example.com',
      phone: '+14155550123',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
    },
    expires_in: 'P3D',
    channels: ['email'],
    reminders: { after_created: ['P1D'], before_expiry: [] },
    quiet_hours: { start: '21:00', end: '08:00' },
    metadata: { order: '42' },
    success_url: 'https://shop.example/thanks',
    notify_on_expiry: true,
  };
  const publicForm = (
    route: string,
    method: string,
    path: fc.Arbitrary<string>,
    fields: Record<string, fc.Arbitrary<unknown>>,
  ) =>
    fc
      .tuple(
        path,
        fc
          .subarray(Object.keys(fields))
          .chain((keys) =>
            fc.tuple(
              ...keys.map((k) =>
                fc.tuple(fc.constant(k), fc.oneof(fields[k] as fc.Arbitrary<unknown>, hostile)),
              ),
            ),
          ),
        fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain'),
      )
      .map(([p, entries, type]) => ({
        route,
        method,
        path: p,
        headers: { 'content-type': type },
        body: queryOf(entries as [string, unknown][]).slice(1),
      }));
  const tokenPath = (suffix = '') =>
    fc.oneof(
      { weight: 5, arbitrary: idLike(f.token, 'tok').map((t) => `/l/${segment(t)}${suffix}`) },
      { weight: 1, arbitrary: rawSegment.map((s) => `/l/${s}${suffix}`) },
    );
  const signedEvent = fc
    .tuple(
      mutated({
        id: 'evt_fuzz_1',
        type: 'payment.failed',
        data: {
          session_id: f.sessionId,
          payment_id: 'sbx_fuzz_1',
          amount: 1500,
          currency: 'EUR',
          failure_reason: 'card_declined',
        },
      }),
      fc.nat(),
    )
    .map(([event, n]) => {
      // Unique ids where the shape is intact, so each reaches the store rather than the duplicate check.
      const e = event as { id?: unknown };
      const body =
        JSON.stringify(
          e && typeof e === 'object' && e.id === 'evt_fuzz_1' ? { ...e, id: `evt_fuzz_${n}` } : event,
        ) ?? '';
      return {
        route: 'POST /v1/callbacks/sandbox',
        method: 'POST',
        path: '/v1/callbacks/sandbox',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signPayload(target.sandboxSecret, body),
        },
        body,
      };
    });
  const twilioStatus = fc
    .tuple(
      fc.record({
        MessageSid: fc.oneof(fc.constant('SM00000000000000000000000000000000'), hostileString),
        MessageStatus: fc.oneof(fc.constantFrom('delivered', 'failed', 'undelivered'), hostileString),
        ErrorCode: fc.oneof(fc.constant('30003'), hostileString),
      }),
      fc.boolean(),
    )
    .map(([params, signed]) => {
      const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.toWellFormed()]));
      const url = `${target.publicBaseUrl}/v1/callbacks/twilio/status`;
      const signature =
        signed && target.twilioAuthToken
          ? twilio.getExpectedTwilioSignature(target.twilioAuthToken, url, p)
          : 'forged';
      return {
        route: 'POST /v1/callbacks/twilio/status',
        method: 'POST',
        path: '/v1/callbacks/twilio/status',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(p).toString(),
      };
    });

  return [
    json('POST /v1/payment_links', 'POST', fc.constant('/v1/payment_links'), linkTemplate),
    json('POST /v1/payment_links', 'POST', fc.constant('/v1/payment_links'), {
      amount: 1000,
      currency: 'USD',
      accept_partial: true,
      min_partial_amount: 100,
      expires_at: future,
      customer_id: f.customerId,
      invoice_id: 'inv-ext-1',
    }),
    json(
      'GET /v1/payment_links',
      'GET',
      withQuery('/v1/payment_links', {
        ...page,
        status: fc.constantFrom('active', 'paid'),
        customer_id: idLike(f.customerId, 'cus'),
        invoice_id: fc.string(),
        order_id: fc.string(),
        campaign_id: fc.string(),
        reference: fc.string(),
        'created[gte]': hostileDate,
        'created[lte]': fc.constant(future),
      }),
    ),
    json('GET /v1/payment_links/:id', 'GET', linkPath()),
    json('POST /v1/payment_links/:id', 'POST', linkPath(), {
      description: 'Updated',
      metadata: { k: 'v' },
      reminders: { after_created: ['PT1H'] },
      quiet_hours: null,
      expires_at: future,
    }),
    json('POST /v1/payment_links/:id/cancel', 'POST', linkPath('/cancel'), {
      reason: 'fuzz',
      notify_customer: false,
    }),
    json('POST /v1/payment_links/:id/reissue', 'POST', linkPath('/reissue'), { expires_in: 'P1D' }),
    json('POST /v1/payment_links/:id/notify', 'POST', linkPath('/notify'), { channel: 'email' }),
    json(
      'GET /v1/payment_links/:id/events',
      'GET',
      linkPath('/events').chain((p) => withQuery(p, page)),
    ),
    json('GET /v1/payment_links/:id/payments', 'GET', linkPath('/payments')),
    json('POST /v1/customers', 'POST', fc.constant('/v1/customers'), {
      name: 'Grace',
      email: 'grace@example.com',
      phone: '+14155550124',
      locale: 'en-GB',
      timezone: 'Europe/London',
      metadata: { tier: 'gold' },
    }),
    json('GET /v1/customers', 'GET', withQuery('/v1/customers', page)),
    json('GET /v1/customers/:id', 'GET', idPath('/v1/customers', f.customerId, 'cus')),
    json('POST /v1/invoices', 'POST', fc.constant('/v1/invoices'), {
      number: 'INV-1',
      customer_id: f.customerId,
      amount_due: 5000,
      currency: 'USD',
      due_date: '2027-01-31',
      metadata: { po: '7' },
    }),
    json('GET /v1/invoices', 'GET', withQuery('/v1/invoices', page)),
    json('GET /v1/invoices/:id', 'GET', idPath('/v1/invoices', f.invoiceId, 'inv')),
    json(
      'POST /v1/invoices/:id/payment_link',
      'POST',
      idPath('/v1/invoices', f.invoiceId, 'inv', '/payment_link'),
      { channels: ['email'], expires_at: future, quiet_hours: null, success_url: 'https://shop.example/ok' },
    ),
    json('POST /v1/orders', 'POST', fc.constant('/v1/orders'), {
      customer_id: f.customerId,
      amount: 2500,
      currency: 'GBP',
      description: 'An order',
      metadata: { cart: 'c1' },
    }),
    json('GET /v1/orders', 'GET', withQuery('/v1/orders', page)),
    json('GET /v1/orders/:id', 'GET', idPath('/v1/orders', f.orderId, 'ord')),
    json(
      'POST /v1/orders/:id/payment_link',
      'POST',
      idPath('/v1/orders', f.orderId, 'ord', '/payment_link'),
      { channels: ['email'], expires_at: future },
    ),
    json(
      'GET /v1/payment_profiles',
      'GET',
      withQuery('/v1/payment_profiles', { ...page, customer_id: idLike(f.customerId, 'cus') }),
    ),
    json('PUT /v1/webhook_endpoint', 'PUT', fc.constant('/v1/webhook_endpoint'), {
      url: 'https://hooks.example/paylinks',
    }),
    json('GET /v1/webhook_endpoint', 'GET', fc.constant('/v1/webhook_endpoint')),
    json(
      'GET /v1/webhook_deliveries',
      'GET',
      withQuery('/v1/webhook_deliveries', { ...page, event_id: fc.string() }),
    ),
    // Only the sandbox: a Stripe key would send the account's checkouts to the internet.
    json('PUT /v1/payment_provider', 'PUT', fc.constant('/v1/payment_provider'), { provider: 'sandbox' }),
    json('GET /v1/payment_provider', 'GET', fc.constant('/v1/payment_provider')),
    json('GET /v1/payments/:id', 'GET', idPath('/v1/payments', f.paymentId, 'pay')),
    json('POST /v1/payments/:id/refund', 'POST', idPath('/v1/payments', f.paymentId, 'pay', '/refund'), {
      amount: 1,
    }),
    tokenPath().map((path) => ({ route: 'GET /l/:token', method: 'GET', path, headers: {} })),
    publicForm('POST /l/:token/pay', 'POST', tokenPath('/pay'), {
      amount: fc.constantFrom('1.00', '0', '-1', '1e9', '١٢٣'),
      save_payment_method: fc.constant('true'),
    }),
    tokenPath('/thanks').map((path) => ({ route: 'GET /l/:token/thanks', method: 'GET', path, headers: {} })),
    tokenPath('/qr.png').map((path) => ({ route: 'GET /l/:token/qr.png', method: 'GET', path, headers: {} })),
    tokenPath('/qr.svg').map((path) => ({ route: 'GET /l/:token/qr.svg', method: 'GET', path, headers: {} })),
    idPath('/sandbox/checkout', f.sessionId, 'ps').map((path) => ({
      route: 'GET /sandbox/checkout/:id',
      method: 'GET',
      path,
      headers: {},
    })),
    publicForm('POST /sandbox/checkout/:id', 'POST', idPath('/sandbox/checkout', 'ps_none', 'ps'), {
      outcome: fc.constantFrom('succeed', 'decline'),
      save_payment_profile: fc.constant('true'),
    }),
    idPath('/u', f.unsubscribeToken, 'u').map((path) => ({
      route: 'GET /u/:token',
      method: 'GET',
      path,
      headers: {},
    })),
    publicForm('POST /u/:token', 'POST', idPath('/u', 'not-a-token', 'u'), { confirm: fc.constant('yes') }),
    signedEvent,
    twilioStatus,
    fc.tuple(idLike(target.accountId, 'acct'), hostileString).map(([id, body]) => ({
      route: 'POST /v1/callbacks/stripe/:account_id',
      method: 'POST',
      path: `/v1/callbacks/stripe/${segment(id)}`,
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      body,
    })),
    fc
      .constantFrom(
        '/healthz',
        '/readyz',
        '/openapi.json',
        '/docs',
        '/v1/nothing_here',
        '/%00',
        '/v1/%ED%A0%80',
      )
      .map((path) => ({ route: `GET ${path}`, method: 'GET', path, headers: { ...auth } })),
  ];
}

// ---- the run ----

async function prepare(target: FuzzTarget): Promise<Fixtures> {
  const ok = async (what: string, p: Promise<{ status: number; body: any }>) => {
    const r = await p;
    if (r.status >= 300)
      throw new Error(`fuzz fixtures: ${what} answered ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const customer = await ok(
    'customer',
    api(target, 'POST', '/v1/customers', { name: 'Fixture', email: 'fixture@example.com' }),
  );
  const invoice = await ok(
    'invoice',
    api(target, 'POST', '/v1/invoices', {
      number: `FX-${Date.now()}`,
      amount_due: 5000,
      currency: 'USD',
      due_date: '2027-01-31',
    }),
  );
  const order = await ok('order', api(target, 'POST', '/v1/orders', { amount: 2500, currency: 'USD' }));
  const link = await ok(
    'link',
    api(target, 'POST', '/v1/payment_links', {
      amount: 1500,
      currency: 'EUR',
      accept_partial: true,
      customer: { email: 'fixture@example.com' },
      channels: ['email'],
    }),
  );
  const token = tokenOf(link);
  const session = await openSession(target, token, '1.00', 1);
  if (!session.sessionId) throw new Error(`fuzz fixtures: no session (${session.status})`);
  // A real payment (so that /v1/payments/:id and its refund meet a real one): a second session.
  const paid = await ok(
    'paid link',
    api(target, 'POST', '/v1/payment_links', { amount: 700, currency: 'USD' }),
  );
  const paidSession = await openSession(target, tokenOf(paid), undefined, 2);
  const event = JSON.stringify({
    id: `evt_fixture_${Date.now()}`,
    type: 'payment.succeeded',
    data: {
      session_id: paidSession.sessionId,
      payment_id: `sbx_fixture_${Date.now()}`,
      amount: 700,
      currency: 'USD',
    },
  });
  await send(target.baseUrl, {
    method: 'POST',
    path: '/v1/callbacks/sandbox',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signPayload(target.sandboxSecret, event),
    },
    body: event,
  });
  const payment = await until(
    async () => (await api(target, 'GET', `/v1/payment_links/${paid.id}/payments`)).body?.data?.[0],
    60_000,
    'the fixture payment',
  );
  const notification = await until(
    () => target.db('notifications').where({ link_id: link.id }).first('unsubscribe_token'),
    60_000,
    "the fixture link's message",
  );
  return {
    linkId: link.id,
    token,
    customerId: customer.id,
    invoiceId: invoice.id,
    orderId: order.id,
    sessionId: session.sessionId,
    paymentId: payment.id,
    unsubscribeToken: (notification as unknown as { unsubscribe_token: string }).unsubscribe_token,
  };
}

/** The requests of a seed, in order: the same seed gives the same list. */
export function generate(fixtures: Fixtures, target: FuzzTarget, seed: number, count: number): FuzzRequest[] {
  const arbitrary = fc.oneof(...routes(fixtures, target));
  return fc.sample(arbitrary, { seed, numRuns: count });
}

export interface Answered {
  request: FuzzRequest;
  status: number;
  ms: number;
  error?: string;
  body?: unknown;
}

const shown = (a: Answered) => ({
  method: a.request.method,
  path: a.request.path.length > 300 ? `${a.request.path.slice(0, 300)}…` : a.request.path,
  ...(a.request.body !== undefined
    ? {
        body:
          a.request.body.length > 300
            ? `${a.request.body.slice(0, 300)}…(${a.request.body.length} chars)`
            : a.request.body,
      }
    : {}),
  status: a.status,
  ms: Math.round(a.ms),
  ...(a.error ? { error: a.error } : {}),
});

/**
 * Text that Postgres should never have been given: not well-formed, NUL, or a surrogate turned
 * U+FFFD. (A literal backslash followed by `u0000` is six ordinary characters, not junk.)
 */
const junkText = (s: string) => !s.isWellFormed() || s.includes('\u0000') || s.includes('\ufffd');

/**
 * Left out of the junk scan: a provider's signed body is kept verbatim (its JSON escapes are plain
 * ASCII), and the descriptive text of an authentic provider event is made storable on purpose
 * (U+FFFD where it was malformed) rather than refused, which would lose the event.
 */
const VERBATIM_OR_CLEANED: Record<string, string> = {
  provider_events: "to_jsonb(t) - 'payload'",
  payment_sessions: "to_jsonb(t) - 'failure_reason'",
  link_events:
    "CASE WHEN t.type = 'payment_session.failed' THEN to_jsonb(t) #- '{data,reason}' ELSE to_jsonb(t) END",
};

const TABLES_WITH_IDS = ['payment_links', 'customers', 'invoices', 'orders'];

export async function fuzz(target: FuzzTarget, options: FuzzOptions) {
  const slowMs = options.slowMs ?? 5_000;
  const fixtures = await prepare(target);
  const startedAt = new Date();
  const requests = generate(fixtures, target, options.seed, options.requests);
  const answers: Answered[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= requests.length) return;
      const request = requests[i] as FuzzRequest;
      const started = performance.now();
      try {
        const r = await send(target.baseUrl, {
          method: request.method,
          path: request.path,
          headers: { ...request.headers, ...fromClient(i) },
          ...(request.body !== undefined ? { body: request.body } : {}),
          timeoutMs: Math.max(slowMs * 4, 20_000),
        });
        answers[i] = { request, status: r.status, ms: r.ms, body: r.body };
      } catch (err) {
        answers[i] = { request, status: 0, ms: performance.now() - started, error: String(err) };
      }
    }
  };
  const runStarted = performance.now();
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  const runMs = Math.round(performance.now() - runStarted);

  const failures: string[] = [];
  const serverErrors = answers.filter((a) => a.status >= 500 || a.status === 0);
  const slow = answers.filter((a) => a.ms > slowMs);
  for (const a of serverErrors.slice(0, 30)) failures.push(`5xx: ${JSON.stringify(shown(a))}`);
  for (const a of slow.slice(0, 10)) failures.push(`slow: ${JSON.stringify(shown(a))}`);

  // Rows: every text well-formed; every row created during the run accounted for by a 2xx answer.
  const accounted = new Set<string>();
  const collect = (v: unknown) => {
    if (typeof v === 'string') accounted.add(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  };
  for (const a of answers) if (a.status >= 200 && a.status < 300) collect(a.body);
  const tables: string[] = (
    await target
      .db('information_schema.tables')
      .where({ table_schema: 'public', table_type: 'BASE TABLE' })
      .select('table_name')
  )
    .map((r: { table_name: string }) => r.table_name)
    .filter((t: string) => !t.startsWith('knex_'));
  const junk: string[] = [];
  for (const table of tables) {
    const scanned = VERBATIM_OR_CLEANED[table] ?? 'to_jsonb(t)';
    const rows = await target.db.raw(`SELECT (${scanned})::text AS j FROM ?? t`, [table]);
    for (const { j } of rows.rows as { j: string }[])
      if (junkText(j)) junk.push(`${table}: ${j.slice(0, 300)}`);
  }
  for (const j of junk.slice(0, 20)) failures.push(`junk row: ${j}`);
  const unaccounted: string[] = [];
  for (const table of TABLES_WITH_IDS) {
    const rows = await target.db(table).where('created_at', '>=', startedAt).select('id');
    for (const { id } of rows as { id: string }[]) if (!accounted.has(id)) unaccounted.push(`${table}.${id}`);
  }
  // Links made by a document-link request are named in its answer; links reissued too.
  for (const u of unaccounted.slice(0, 20)) failures.push(`row created without a 2xx answer: ${u}`);

  const failedWorkflows = await settledFailedWorkflows(target);
  for (const w of failedWorkflows.slice(0, 20)) failures.push(`failed workflow: ${w}`);

  // Every offending request, for replay and triage (the summary lists only the first ones).
  const offendersFile = join(tmpdir(), `paylinks-chaos-fuzz-${options.seed}.jsonl`);
  writeFileSync(
    offendersFile,
    [...serverErrors, ...slow].map((a) => JSON.stringify({ route: a.request.route, ...shown(a) })).join('\n'),
  );
  const byStatus: Record<string, number> = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  const serverErrorRoutes: Record<string, number> = {};
  for (const a of serverErrors)
    serverErrorRoutes[a.request.route] = (serverErrorRoutes[a.request.route] ?? 0) + 1;
  const sorted = answers.map((a) => a.ms).sort((x, y) => x - y);
  return {
    failures,
    figures: {
      seed: options.seed,
      requests: requests.length,
      routes: new Set(requests.map((r) => r.route)).size,
      runMs,
      byStatus,
      serverErrors: serverErrors.length,
      serverErrorRoutes,
      slow: slow.length,
      p50Ms: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      maxMs: Math.round(sorted.at(-1) ?? 0),
      junkRows: junk.length,
      unaccountedRows: unaccounted.length,
      failedWorkflows: failedWorkflows.length,
      offendersFile,
      replay: `npm run chaos -- --part fuzz --seed ${options.seed} --requests ${options.requests}`,
    },
    answers,
  };
}

/**
 * The link workflows of this target that failed, once the ones still working through what the
 * run asked settle (no pending activity). A link whose row is open while its workflow is closed
 * is reported too: that is a link broken for good.
 */
export async function settledFailedWorkflows(target: Target): Promise<string[]> {
  const scope = `TaskQueue="${target.taskQueue}"`;
  await until(
    async () => {
      for await (const w of target.temporal.workflow.list({
        query: `${scope} AND ExecutionStatus="Running"`,
      })) {
        const d = await target.temporal.workflow.getHandle(w.workflowId, w.runId).describe();
        // Webhook deliveries to a merchant's unreachable URL retry for a day: not the link's own work.
        const own = (d.raw.pendingActivities ?? []).filter((a) => a.activityType?.name !== 'deliverWebhook');
        if (own.length > 0) return undefined;
      }
      return true;
    },
    120_000,
    'the link workflows to settle',
    500,
  ).catch(() => undefined); // still busy: what failed so far is reported all the same
  const failed: string[] = [];
  for await (const w of target.temporal.workflow.list({ query: `${scope} AND ExecutionStatus="Failed"` }))
    failed.push(`${w.workflowId} (${w.type})`);
  const open = await target.db('payment_links').whereIn('status', ['active', 'partially_paid']).select('id');
  for (const { id } of open as { id: string }[]) {
    try {
      const d = await target.temporal.workflow.getHandle(id).describe();
      if (d.status.name !== 'RUNNING')
        failed.push(`${id}: the row is open but its workflow is ${d.status.name}`);
    } catch (err) {
      failed.push(`${id}: the row is open but its workflow cannot be found (${String(err).slice(0, 100)})`);
    }
  }
  return failed;
}
