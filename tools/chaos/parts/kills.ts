/**
 * Part "kills": 200 link lifecycles driven over HTTP (100 paid in full and 25 in two parts through
 * signed sandbox callbacks, the rest expiring or cancelled, every one with an email and an SMS
 * recipient of its own) while the engine is killed with SIGKILL: the worker alone once, then every
 * process at once twice, each time restarted. The load behaves as clients and providers do: it
 * retries what was not acknowledged (the same idempotency key, the same event id). At the end,
 * from Postgres and the sinks: every link in its right final state, each payment recorded once,
 * each expected message delivered once; and how long each restart took to be ready.
 * Sizes: --links, --paid, --partial, --lanes (concurrent lifecycles), --seed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { SIGNATURE_HEADER } from '../../../src/signing';
import { type Engine, startEngine } from '../engine';
import { settledFailedWorkflows } from '../fuzz';
import { firstFailures, type PartResult, setting } from '../part';
import { random } from '../random';
import { type Answer, api, fromClient, openSession, send, tokenOf } from '../target';
import { until } from '../wait';

type Kind = 'paid' | 'partial' | 'expire' | 'cancel';
const FINAL: Record<Kind, string> = { paid: 'paid', partial: 'paid', expire: 'expired', cancel: 'cancelled' };
const AMOUNT = 1000;
const FIRST_PART = 400;
/** How long one step keeps retrying through kills and restarts. */
const STEP_MS = 240_000;

const transient = (r: Answer) => r.status === 429 || r.status >= 500;

/** Retries a request through refusals, 5xx and network errors until `done` accepts the answer. */
async function persist(
  what: string,
  attempt: () => Promise<Answer>,
  done: (r: Answer) => boolean = (r) => !transient(r),
) {
  let last = '';
  return until(
    async () => {
      try {
        const r = await attempt();
        last = `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;
        return done(r) ? r : undefined;
      } catch (err) {
        last = String(err);
        return undefined;
      }
    },
    STEP_MS,
    `${what} (last: ${last})`,
    200,
  );
}

interface Planned {
  i: number;
  kind: Kind;
  email: string;
  phone: string;
  linkId?: string;
}

export async function run(): Promise<PartResult> {
  const seed = setting('seed', 15);
  const total = setting('links', 200);
  const paidCount = setting('paid', Math.round(total / 2));
  const partialCount = setting('partial', Math.round(total / 8));
  const lanes = setting('lanes', 10);
  const rest = total - paidCount - partialCount;
  const kinds: Kind[] = [
    ...Array<Kind>(paidCount).fill('paid'),
    ...Array<Kind>(partialCount).fill('partial'),
    ...Array<Kind>(Math.ceil(rest / 2)).fill('expire'),
    ...Array<Kind>(Math.floor(rest / 2)).fill('cancel'),
  ];
  const rand = random(seed);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as Kind, kinds[i] as Kind];
  }
  const tag = randomBytes(3).toString('hex');
  const plan: Planned[] = kinds.map((kind, i) => ({
    i,
    kind,
    email: `c${i}-${tag}@chaos.example.com`,
    phone: `+1415555${String(i).padStart(4, '0')}`,
  }));

  const engine = await startEngine();
  const failures: string[] = [];
  const started = Date.now();
  try {
    let begun = 0;
    let finished = 0;
    const stepFailures: string[] = [];
    const lifecycle = async (p: Planned) => {
      const link = await createLink(engine, p, tag);
      p.linkId = link.id;
      const token = tokenOf(link);
      // The customer acts once the link reached them: a link message is only sent while the link
      // is open, so paying or cancelling first would rightly suppress it.
      await until(
        () =>
          engine.sinks.smtp.messages.some((m) => m.envelopeTo.includes(p.email)) &&
          engine.sinks.twilio.messages.some((m) => m.to === p.phone)
            ? true
            : undefined,
        STEP_MS,
        `the link messages of lifecycle ${p.i}`,
        100,
      );
      if (p.kind === 'paid') await pay(engine, p, token, undefined, AMOUNT, 1, tag);
      if (p.kind === 'partial') {
        await pay(engine, p, token, (FIRST_PART / 100).toFixed(2), FIRST_PART, 1, tag);
        await persist(
          `link ${p.i} to be partially paid`,
          () => api(engine, 'GET', `/v1/payment_links/${link.id}`),
          (r) => ['partially_paid', 'paid'].includes(r.body?.status),
        );
        await pay(engine, p, token, undefined, AMOUNT - FIRST_PART, 2, tag);
      }
      if (p.kind === 'cancel')
        await persist(
          `link ${p.i} to be cancelled`,
          () => api(engine, 'POST', `/v1/payment_links/${link.id}/cancel`, { notify_customer: true }),
          // A retry of a cancel that went through meets a closed link (409): done all the same.
          (r) => r.status === 200 || r.status === 409,
        );
    };
    const lane = async () => {
      for (;;) {
        const p = plan[begun++];
        if (!p) return;
        try {
          await lifecycle(p);
        } catch (err) {
          stepFailures.push(`lifecycle ${p.i} (${p.kind}): ${String(err).slice(0, 300)}`);
        }
        finished++;
      }
    };

    // The kills, at a quarter, a half and three quarters of the lifecycles begun.
    const restarts: { kill: string; readyMs: number; atLifecycle: number }[] = [];
    const killer = (async () => {
      const schedule: [number, 'worker' | 'all'][] = [
        [0.25, 'worker'],
        [0.5, 'all'],
        [0.75, 'all'],
      ];
      for (const [share, what] of schedule) {
        await until(
          () => (begun >= total * share ? true : undefined),
          STEP_MS * 4,
          `lifecycle ${total * share}`,
          20,
        );
        const at = begun;
        console.error(
          `chaos kills: SIGKILL ${what === 'worker' ? 'the worker' : 'every engine process'} at lifecycle ${at}`,
        );
        const readyMs = what === 'worker' ? await engine.killWorker() : await engine.killAll();
        console.error(`chaos kills: ready again in ${readyMs} ms`);
        restarts.push({ kill: what === 'worker' ? 'worker' : 'whole tree', readyMs, atLifecycle: at });
      }
    })();
    await Promise.all([...Array.from({ length: lanes }, lane), killer]);
    const driveMs = Date.now() - started;
    failures.push(...stepFailures);

    // Final states, from Postgres.
    const created = plan.filter((p) => p.linkId);
    const wrongState = await until(
      async () => {
        const rows = await engine
          .db('payment_links')
          .whereIn(
            'id',
            created.map((p) => p.linkId as string),
          )
          .select('id', 'status');
        const status = new Map(rows.map((r: { id: string; status: string }) => [r.id, r.status]));
        const wrong = created.filter((p) => status.get(p.linkId as string) !== FINAL[p.kind]);
        return wrong.length === 0 ? [] : undefined;
      },
      STEP_MS,
      'every link in its final state',
      500,
    ).catch(async () => {
      const rows = await engine
        .db('payment_links')
        .whereIn(
          'id',
          created.map((p) => p.linkId as string),
        )
        .select('id', 'status');
      const status = new Map(rows.map((r: { id: string; status: string }) => [r.id, r.status]));
      return created
        .filter((p) => status.get(p.linkId as string) !== FINAL[p.kind])
        .map((p) => `${p.linkId} (${p.kind}) is ${status.get(p.linkId as string) ?? 'missing'}`);
    });
    for (const w of wrongState.slice(0, 20)) failures.push(`wrong final state: ${w}`);

    // Links: one per lifecycle (a retried create must not make a second).
    const perEmail = await engine
      .db('payment_links')
      .select(engine.db.raw("customer->>'email' AS email"))
      .count({ n: '*' })
      .groupByRaw("customer->>'email'");
    const doubledLinks = perEmail.filter((r) => Number(r.n) > 1);
    for (const d of doubledLinks.slice(0, 10)) failures.push(`more than one link for ${JSON.stringify(d)}`);

    // Payments: exactly the ones sent, once each.
    const payments = await engine
      .db('payments')
      .whereIn(
        'link_id',
        created.map((p) => p.linkId as string),
      )
      .select('link_id', 'amount', 'provider_payment_id');
    const byLink = new Map<string, number[]>();
    for (const p of payments as { link_id: string; amount: number }[])
      byLink.set(p.link_id, [...(byLink.get(p.link_id) ?? []), Number(p.amount)]);
    let lostPayments = 0;
    let doubledPayments = 0;
    for (const p of created) {
      const expected =
        p.kind === 'paid' ? [AMOUNT] : p.kind === 'partial' ? [FIRST_PART, AMOUNT - FIRST_PART] : [];
      const got = [...(byLink.get(p.linkId as string) ?? [])].sort((a, b) => a - b);
      const want = [...expected].sort((a, b) => a - b);
      if (got.length < want.length) lostPayments += want.length - got.length;
      if (got.length > want.length) doubledPayments += got.length - want.length;
      if (got.join() !== want.join())
        failures.push(
          `payments of ${p.linkId} (${p.kind}): ${got.join('+') || 'none'}, expected ${want.join('+') || 'none'}`,
        );
    }
    const stranded = await engine.db('provider_events').whereNull('processed_at').select('event_id');
    for (const s of stranded.slice(0, 10))
      failures.push(`provider event stored but never processed: ${s.event_id}`);

    // Messages: the link by email and SMS, and one closing message by email (receipt, expired, cancelled).
    await until(
      async () => {
        const pending = await engine
          .db('notifications')
          .whereIn('status', ['pending'])
          .count<{ n: string }[]>({ n: '*' });
        if (Number(pending[0]?.n) > 0) return undefined;
        const emails = engine.sinks.smtp.messages.length;
        const sms = engine.sinks.twilio.messages.length;
        return emails >= created.length * 2 && sms >= created.length ? true : undefined;
      },
      STEP_MS,
      'every expected message to reach the sinks',
      500,
    ).catch((err) => failures.push(String(err)));
    // Whatever a crashed activity may still send, it sends before its workflow settles.
    const failedWorkflows = await settledFailedWorkflows(engine);
    for (const w of failedWorkflows.slice(0, 10)) failures.push(`failed workflow: ${w}`);
    const emailsTo = new Map<string, number>();
    for (const m of engine.sinks.smtp.messages)
      for (const to of m.envelopeTo)
        emailsTo.set(to.toLowerCase(), (emailsTo.get(to.toLowerCase()) ?? 0) + 1);
    const smsTo = new Map<string, number>();
    for (const m of engine.sinks.twilio.messages) smsTo.set(m.to, (smsTo.get(m.to) ?? 0) + 1);
    const notes = async (linkId: string | undefined) =>
      JSON.stringify(
        await engine
          .db('notifications')
          .where({ link_id: linkId ?? '' })
          .select('channel', 'message_type', 'status', 'attempts', 'error_code', 'error_reason'),
      );
    let lostMessages = 0;
    let doubledMessages = 0;
    for (const p of created) {
      for (const [got, want, where] of [
        [emailsTo.get(p.email) ?? 0, 2, p.email],
        [smsTo.get(p.phone) ?? 0, 1, p.phone],
      ] as [number, number, string][]) {
        if (got < want) lostMessages += want - got;
        if (got > want) doubledMessages += got - want;
        if (got !== want)
          failures.push(
            `messages to ${where} (link ${p.linkId}, ${p.kind}): ${got}, expected ${want}; notifications ${await notes(p.linkId)}`,
          );
      }
    }
    if (created.length < plan.length)
      failures.push(`${plan.length - created.length} lifecycles never got their link created`);
    if (restarts.length < 3) failures.push(`only ${restarts.length} of 3 kills happened`);

    return {
      part: 'kills',
      ok: failures.length === 0,
      failures: firstFailures(failures, 40),
      seed,
      lifecycles: {
        total,
        paid: paidCount,
        partial: partialCount,
        expire: Math.ceil(rest / 2),
        cancel: Math.floor(rest / 2),
        finished,
      },
      restarts,
      driveMs,
      links: { created: created.length, wrongFinalState: wrongState.length, doubled: doubledLinks.length },
      payments: {
        recorded: payments.length,
        lost: lostPayments,
        doubled: doubledPayments,
        strandedEvents: stranded.length,
      },
      messages: {
        emails: engine.sinks.smtp.messages.length,
        sms: engine.sinks.twilio.messages.length,
        expected: created.length * 3,
        lost: lostMessages,
        doubled: doubledMessages,
      },
      failedWorkflows: failedWorkflows.length,
    };
  } catch (err) {
    throw new Error(`${String(err)}\nlast engine output: ${JSON.stringify(engine.logs()).slice(-3000)}`);
  } finally {
    await engine.stop();
  }
}

async function createLink(engine: Engine, p: Planned, tag: string): Promise<{ id: string; url: string }> {
  const body = {
    amount: AMOUNT,
    currency: 'USD',
    description: `Chaos lifecycle ${p.i} (${p.kind})`,
    customer: { email: p.email, phone: p.phone },
    channels: ['email', 'sms'],
    reminders: { after_created: [], before_expiry: [] },
    quiet_hours: null,
    // Expiring links close during the run, across the kills; the others stay open until paid or cancelled.
    expires_in: p.kind === 'expire' ? `PT${45 + (p.i % 30)}S` : 'PT2H',
    notify_on_expiry: true,
    ...(p.kind === 'partial' ? { accept_partial: true } : {}),
  };
  const r = await persist(
    `link ${p.i} to be created`,
    () =>
      api(engine, 'POST', '/v1/payment_links', body, {
        'idempotency-key': `chaos-${tag}-${p.i}`,
        ...fromClient(p.i),
      }),
    // The first attempt still in progress (or cut off by a kill): retried, as the answer asks.
    (r) => !transient(r) && r.body?.error?.code !== 'idempotency_key_in_use',
  );
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The customer presses Pay; the provider then calls back, signed, until acknowledged. */
async function pay(
  engine: Engine,
  p: Planned,
  token: string,
  typed: string | undefined,
  amount: number,
  n: number,
  tag: string,
) {
  let sessionId: string | undefined;
  await until(
    async () => {
      try {
        const opened = await openSession(engine, token, typed, 100_000 + p.i);
        sessionId = opened.sessionId;
        return sessionId;
      } catch {
        return undefined;
      }
    },
    STEP_MS,
    `a session on link ${p.i}`,
    200,
  );
  const event = JSON.stringify({
    id: `evt_kill_${tag}_${p.i}_${n}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `sbx_kill_${tag}_${p.i}_${n}`, amount, currency: 'USD' },
  });
  await persist(
    `the callback of payment ${n} of link ${p.i}`,
    () => {
      const t = Math.floor(Date.now() / 1000);
      const v1 = createHmac('sha256', engine.sandboxSecret).update(`${t}.${event}`).digest('hex');
      return send(engine.baseUrl, {
        method: 'POST',
        path: '/v1/callbacks/sandbox',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: `t=${t},v1=${v1}`,
          ...fromClient(200_000 + p.i),
        },
        body: event,
        timeoutMs: 30_000,
      });
    },
    (r) => r.status >= 200 && r.status < 300,
  );
}
