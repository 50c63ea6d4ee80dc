/**
 * A storm of provider callbacks against one engine: many concurrent copies of a few signed
 * events (each must make exactly one payment), the same events replayed later, forged ones
 * (wrong secret, tampered, unsigned, stale, for a session that does not exist, at another
 * provider's endpoint) that must be refused with nothing stored, and malformed ones (bad JSON,
 * NUL and lone surrogates in fields, huge bodies, wrong types) that must get a 4xx, never a 5xx.
 */
import { createHmac } from 'node:crypto';
import { SIGNATURE_HEADER, signPayload } from '../../src/signing';
import { settledFailedWorkflows } from './fuzz';
import { type Answer, api, fromClient, openSession, send, type Target, tokenOf } from './target';
import { until } from './wait';

export interface StormOptions {
  /** Distinct signed events, each on its own link. */
  events: number;
  /** Concurrent copies sent in all (spread over the events). */
  copies: number;
  forged: number;
  /** A tag that keeps this run's event ids apart from any other's. */
  tag: string;
  waitMs?: number;
}

interface Sent {
  kind: string;
  status: number;
  eventId?: string;
  note?: string;
}

const AMOUNT = 1000;

/** The Paylinks signature over raw bytes (bytes that are not UTF-8 included). */
function signBytes(secret: string, raw: Buffer): string {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(raw).digest('hex')}`;
}

function signedCallback(target: Target, body: string | Buffer, client: number, signature?: string) {
  return send(target.baseUrl, {
    method: 'POST',
    path: '/v1/callbacks/sandbox',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signature ?? signPayload(target.sandboxSecret, body.toString()),
      ...fromClient(client),
    },
    body,
  });
}

/** A provider retries what was not acknowledged (429, 5xx, network): until a 2xx or 4xx. */
async function deliver(target: Target, body: string, client: number, waitMs: number): Promise<Answer> {
  return until(
    async () => {
      const r = await signedCallback(target, body, client);
      return r.status === 429 || r.status >= 500 ? undefined : r;
    },
    waitMs,
    'a callback to be acknowledged',
    50,
  );
}

export async function callbackStorm(target: Target, options: StormOptions) {
  const waitMs = options.waitMs ?? 120_000;
  const failures: string[] = [];
  const statuses: Record<string, Record<number, number>> = {};
  const tally = (kind: string, status: number) => {
    statuses[kind] ??= {};
    (statuses[kind] as Record<number, number>)[status] =
      ((statuses[kind] as Record<number, number>)[status] ?? 0) + 1;
  };

  // The links and their open sessions, as customers pressing Pay leave them.
  const links: { id: string; sessionId: string }[] = [];
  for (let i = 0; i < options.events; i++) {
    const created = await api(target, 'POST', '/v1/payment_links', {
      amount: AMOUNT,
      currency: 'USD',
      description: `storm ${options.tag} ${i}`,
    });
    if (created.status !== 201)
      throw new Error(`could not create a link: ${created.status} ${JSON.stringify(created.body)}`);
    const opened = await openSession(target, tokenOf(created.body), undefined, 50_000 + i);
    if (!opened.sessionId) throw new Error(`could not open a session: ${opened.status}`);
    links.push({ id: created.body.id, sessionId: opened.sessionId });
  }
  const eventOf = (i: number) => ({
    id: `evt_storm_${options.tag}_${i}`,
    type: 'payment.succeeded',
    data: {
      session_id: links[i]?.sessionId,
      payment_id: `sbx_storm_${options.tag}_${i}`,
      amount: AMOUNT,
      currency: 'USD',
    },
  });
  const bodies = links.map((_, i) => JSON.stringify(eventOf(i)));

  // 1. Duplicates: every copy at once, each from its own client address. What was refused for
  // load (429) is delivered again, as a provider retries.
  const copies = Array.from({ length: options.copies }, (_, n) => n % bodies.length);
  const stormStarted = performance.now();
  const first: Sent[] = await Promise.all(
    copies.map(async (i, n) => {
      try {
        const r = await signedCallback(target, bodies[i] as string, n);
        return { kind: 'duplicate', status: r.status, eventId: eventOf(i).id };
      } catch (err) {
        return { kind: 'duplicate', status: 0, eventId: eventOf(i).id, note: String(err) };
      }
    }),
  );
  for (const s of first) tally('duplicate', s.status);
  await Promise.all(
    bodies.map(async (body, i) => {
      if (first.some((s) => s.eventId === eventOf(i).id && s.status >= 200 && s.status < 300)) return;
      const r = await deliver(target, body, 60_000 + i, waitMs);
      if (r.status >= 300) failures.push(`event ${eventOf(i).id} never acknowledged: ${r.status}`);
    }),
  );
  const stormMs = Math.round(performance.now() - stormStarted);

  // Every link paid once, whatever the number of copies.
  const ids = links.map((l) => l.id);
  await until(
    async () => {
      const paid = await target
        .db('payment_links')
        .whereIn('id', ids)
        .where({ status: 'paid' })
        .count<{ n: string }[]>({ n: '*' });
      return Number(paid[0]?.n) === ids.length ? true : undefined;
    },
    waitMs,
    'every stormed link to be paid',
    200,
  ).catch((err) => failures.push(String(err)));

  // 2. Replays: the same signed events again, later (still within the signature's tolerance).
  const replays: Sent[] = await Promise.all(
    bodies.map(async (body, i) => {
      const r = await deliver(target, body, 70_000 + i, waitMs);
      return { kind: 'replay', status: r.status, note: JSON.stringify(r.body) };
    }),
  );
  for (const s of replays) {
    tally('replay', s.status);
    if (s.status !== 200) failures.push(`replay answered ${s.status}: ${s.note}`);
  }

  // 3. Forged: none may be accepted, and nothing of theirs stored.
  const forgedIds: string[] = [];
  const forged: Sent[] = [];
  const aSession = links[0]?.sessionId as string;
  const stale = Math.floor(Date.now() / 1000) - 3600;
  const forgeries: { kind: string; make: (i: number) => Promise<Answer> }[] = [
    {
      kind: 'wrong_secret',
      make: (i) => {
        const body = JSON.stringify({ ...eventOf(i % bodies.length), id: `evt_forged_${options.tag}_${i}` });
        return signedCallback(target, body, 80_000 + i, signPayload('not-the-sandbox-secret-at-all', body));
      },
    },
    {
      kind: 'tampered',
      make: (i) => {
        const body = JSON.stringify({ ...eventOf(i % bodies.length), id: `evt_forged_${options.tag}_${i}` });
        return signedCallback(
          target,
          body.replace(`"amount":${AMOUNT}`, '"amount":1'),
          80_000 + i,
          signPayload(target.sandboxSecret, body),
        );
      },
    },
    {
      kind: 'unsigned',
      make: (i) =>
        send(target.baseUrl, {
          method: 'POST',
          path: '/v1/callbacks/sandbox',
          headers: { 'content-type': 'application/json', ...fromClient(80_000 + i) },
          body: JSON.stringify({ ...eventOf(i % bodies.length), id: `evt_forged_${options.tag}_${i}` }),
        }),
    },
    {
      kind: 'stale_signature',
      make: (i) => {
        const body = JSON.stringify({ ...eventOf(i % bodies.length), id: `evt_forged_${options.tag}_${i}` });
        return signedCallback(target, body, 80_000 + i, signPayload(target.sandboxSecret, body, stale));
      },
    },
    {
      kind: 'unknown_session',
      make: (i) => {
        const event = eventOf(i % bodies.length);
        const body = JSON.stringify({
          ...event,
          id: `evt_forged_${options.tag}_${i}`,
          data: { ...event.data, session_id: `ps_forged${options.tag}${i}` },
        });
        return signedCallback(target, body, 80_000 + i);
      },
    },
    {
      // Another account's Stripe endpoint (which has no Stripe configured) with a sandbox signature.
      kind: 'wrong_account',
      make: (i) => {
        const body = JSON.stringify({ ...eventOf(i % bodies.length), id: `evt_forged_${options.tag}_${i}` });
        return send(target.baseUrl, {
          method: 'POST',
          path: `/v1/callbacks/stripe/${encodeURIComponent(target.accountId)}`,
          headers: {
            'content-type': 'application/json',
            'stripe-signature': signPayload(target.sandboxSecret, body),
            ...fromClient(80_000 + i),
          },
          body,
        });
      },
    },
  ];
  await Promise.all(
    Array.from({ length: options.forged }, async (_, i) => {
      const forgery = forgeries[i % forgeries.length] as (typeof forgeries)[number];
      forgedIds.push(`evt_forged_${options.tag}_${i}`);
      const r = await until(
        async () => {
          const a = await forgery.make(i);
          return a.status === 429 ? undefined : a;
        },
        waitMs,
        'a forged callback to be answered',
        50,
      );
      forged.push({ kind: forgery.kind, status: r.status });
      tally(`forged_${forgery.kind}`, r.status);
      if (r.status < 400 || r.status >= 500)
        failures.push(
          `forged (${forgery.kind}) callback #${i} answered ${r.status}: ${JSON.stringify(r.body)}`,
        );
    }),
  );
  const storedForged = await target
    .db('provider_events')
    .whereIn('event_id', forgedIds)
    .count<{ n: string }[]>({ n: '*' });
  if (Number(storedForged[0]?.n) > 0) failures.push(`${storedForged[0]?.n} forged events were stored`);

  // 4. Malformed: signed (so that parsing is reached) but not an event Paylinks can take.
  const withData = (i: number, data: Record<string, unknown>) =>
    JSON.stringify({
      ...eventOf(i),
      id: `evt_malformed_${options.tag}_${i}_${Object.keys(data).join('_')}`,
      data: { ...eventOf(i).data, ...data },
    });
  // `taken`: an authentic event whose only flaw is descriptive text (a failure reason): refusing it
  // would lose what the provider reports, so it is applied with that text made storable.
  const malformed: { kind: string; body: string | Buffer; contentType?: string; taken?: string }[] = [
    { kind: 'bad_json', body: '{"id": "evt_x", "type": ' },
    { kind: 'not_an_object', body: '[1,2,3]' },
    { kind: 'empty', body: '' },
    {
      kind: 'wrong_types',
      body: JSON.stringify({ id: 42, type: 'payment.succeeded', data: { session_id: [], amount: '10' } }),
    },
    {
      kind: 'unknown_type',
      body: JSON.stringify({
        ...eventOf(0),
        id: `evt_malformed_${options.tag}_type`,
        type: 'payment.teleported',
      }),
    },
    { kind: 'nul_in_session_id', body: withData(0, { session_id: `${aSession}\u0000` }) },
    {
      kind: 'nul_in_event_id',
      body: JSON.stringify({ ...eventOf(0), id: `evt_malformed_${options.tag}_\u0000` }),
    },
    { kind: 'nul_in_payment_id', body: withData(0, { payment_id: `sbx_\u0000_${options.tag}` }) },
    { kind: 'surrogate_in_session_id', body: withData(0, { session_id: `${aSession}\ud800` }) },
    {
      kind: 'surrogate_in_event_id',
      body: JSON.stringify({ ...eventOf(0), id: `evt_malformed_${options.tag}_\udfff` }),
    },
    {
      kind: 'surrogate_in_failure_reason',
      body: JSON.stringify({
        ...eventOf(1),
        id: `evt_malformed_${options.tag}_fr`,
        type: 'payment.failed',
        data: { ...eventOf(1).data, failure_reason: 'card \ud83d' },
      }),
      taken: `evt_malformed_${options.tag}_fr`,
    },
    {
      kind: 'invalid_utf8',
      body: Buffer.concat([
        Buffer.from(`{"id":"evt_malformed_${options.tag}_u8`),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('","type":"payment.succeeded"}'),
      ]),
    },
    {
      kind: 'huge_body',
      body: JSON.stringify({
        ...eventOf(0),
        id: `evt_malformed_${options.tag}_huge`,
        padding: 'x'.repeat(200_000),
      }),
    },
    { kind: 'huge_field', body: withData(0, { session_id: 'ps_'.padEnd(60_000, 'x') }) },
    { kind: 'negative_amount', body: withData(0, { amount: -5, payment_id: `sbx_neg_${options.tag}` }) },
    { kind: 'float_amount', body: withData(0, { amount: 10.5, payment_id: `sbx_float_${options.tag}` }) },
    { kind: 'odd_content_type', body: bodies[0] as string, contentType: 'text/plain; charset=utf-16' },
  ];
  const malformedAnswers: { kind: string; status: number; body: unknown }[] = [];
  for (const [i, m] of malformed.entries()) {
    const raw = m.body;
    const r = await send(target.baseUrl, {
      method: 'POST',
      path: '/v1/callbacks/sandbox',
      headers: {
        'content-type': m.contentType ?? 'application/json',
        [SIGNATURE_HEADER]: signBytes(target.sandboxSecret, Buffer.from(raw)),
        ...fromClient(90_000 + i),
      },
      body: raw,
    });
    malformedAnswers.push({ kind: m.kind, status: r.status, body: r.body });
    tally(`malformed_${m.kind}`, r.status);
    if (r.status >= 500 || (m.taken && r.status !== 200))
      failures.push(
        `malformed callback (${m.kind}) answered ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`,
      );
  }
  const taken = malformed.flatMap((m) => (m.taken ? [m.taken] : []));
  const unapplied = await target
    .db('provider_events')
    .whereIn('event_id', taken)
    .whereNull('processed_at')
    .select('event_id');
  if (unapplied.length > 0)
    failures.push(`authentic events left unapplied: ${unapplied.map((u) => u.event_id).join(', ')}`);
  const junk = await target
    .db('provider_events')
    .where('event_id', 'like', `evt_malformed_${options.tag}%`)
    .whereNotIn('event_id', taken)
    .select('event_id');
  if (junk.length > 0)
    failures.push(`malformed events stored: ${junk.map((j) => JSON.stringify(j.event_id)).join(', ')}`);

  // Exactly one payment per stormed link, and exactly one stored event each.
  const payments = await target
    .db('payments')
    .whereIn('link_id', ids)
    .select('link_id', 'provider_payment_id', 'amount');
  const perLink = new Map<string, number>();
  for (const p of payments) perLink.set(p.link_id, (perLink.get(p.link_id) ?? 0) + 1);
  const lost = ids.filter((id) => !perLink.has(id));
  const doubled = [...perLink].filter(([, n]) => n > 1);
  if (lost.length > 0)
    failures.push(`${lost.length} stormed links have no payment: ${lost.slice(0, 5).join(', ')}`);
  if (doubled.length > 0)
    failures.push(
      `${doubled.length} stormed links have more than one payment: ${doubled
        .slice(0, 5)
        .map(([id, n]) => `${id}×${n}`)
        .join(', ')}`,
    );
  const sums = await target
    .db('payment_links')
    .whereIn('id', ids)
    .select('id', 'amount_paid', 'payments_count');
  const wrongSums = sums.filter((l) => Number(l.amount_paid) !== AMOUNT || Number(l.payments_count) !== 1);
  if (wrongSums.length > 0)
    failures.push(
      `${wrongSums.length} stormed links show a wrong amount paid: ${JSON.stringify(wrongSums.slice(0, 3))}`,
    );
  const fiveXX = first.filter((s) => s.status >= 500 || s.status === 0);
  if (fiveXX.length > 0)
    failures.push(
      `${fiveXX.length} duplicate copies answered 5xx or no answer: ${JSON.stringify(fiveXX.slice(0, 3))}`,
    );

  // No link broken by what it was sent (a NUL or a surrogate that reached its workflow).
  const brokenWorkflows = await settledFailedWorkflows(target);
  for (const w of brokenWorkflows.slice(0, 10)) failures.push(`failed workflow: ${w}`);

  return {
    failures,
    figures: {
      events: options.events,
      copies: options.copies,
      stormMs,
      paymentsPerEvent: { lost: lost.length, doubled: doubled.length },
      forged: forged.length,
      forgedAccepted: forged.filter((f) => f.status < 400).length,
      forgedStored: Number(storedForged[0]?.n),
      malformed: malformedAnswers.map((m) => `${m.kind}:${m.status}`),
      statuses,
      failedWorkflows: brokenWorkflows.length,
    },
  };
}
