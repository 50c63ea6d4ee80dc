/**
 * Plays one interleaving against a running engine over HTTP, as customers, the merchant and the
 * provider would: the links are made, then each step's commands are sent at once
 * (`Promise.all`), the next step only once all of them have answered. What the run learns (the
 * sessions opened, the links reissued) is added in the order the commands were listed, so what a
 * later command picks depends on the interleaving and the answers, not on which answer came first.
 * After each step the links' statuses are read from Postgres: a link seen closed must take no
 * money through a checkout submitted afterwards, and must stay closed.
 */
import { randomBytes } from 'node:crypto';
import { type Answer, api, fromClient, send, type Target, tokenOf } from '../target';
import { until } from '../wait';
import { redeliver, storedCallbacks } from './callbacks';
import {
  AMOUNTS,
  type Command,
  describeCommand,
  type LinkSpec,
  LONG_EXPIRY,
  PARTIAL_PARTS,
  type Scenario,
  SHORT_EXPIRY,
} from './scenario';

const TERMINAL = new Set(['paid', 'completed', 'expired', 'cancelled']);
/** How long `expire` waits past a short-expiry link's expires_at (a loaded worker's timer). */
const EXPIRY_GRACE_MS = 30_000;

export interface RunLink {
  id: string;
  token: string;
  spec: LinkSpec;
  invoiceId?: string;
  orderId?: string;
  /** Sessions opened on it, in the order the model learnt of them. */
  sessions: string[];
  /** The first time a step ended with this link closed: the step's index (-1: before the first). */
  seenClosed?: { afterStep: number; status: string };
}

/** A checkout submitted with "pay": `captured` when the sandbox confirmed it (303). */
export interface Submit {
  step: number;
  linkId: string;
  sessionId: string;
  status: number;
  captured: boolean;
}

export interface RunRecord {
  tag: string;
  links: RunLink[];
  submits: Submit[];
  /** Answers of 500 or more, each with what was asked. */
  serverErrors: string[];
  /** Commands that could not finish (no answer, a wait that ran out), each with why. */
  commandFailures: string[];
  /** What each command got, one line each: the report of a failing interleaving. */
  trace: string[];
  /** How often each thing happened: proof that a run exercised something. */
  tally: Record<string, number>;
}

/** What the tally counts. */
export type Happening =
  | 'sessions opened'
  | 'captured'
  | 'declined'
  | 'cancelled'
  | 'expired'
  | 'refunded'
  | 'callbacks replayed'
  | 'reissued';

/** What a command adds to the run once its step is over. */
interface Outcome {
  line: string;
  session?: { link: RunLink; id: string };
  link?: RunLink;
  submit?: Omit<Submit, 'step'>;
  happened?: Happening;
  /** How many times (default 1). */
  times?: number;
}

export async function executeScenario(target: Target, scenario: Scenario): Promise<RunRecord> {
  const tag = randomBytes(4).toString('hex');
  const record: RunRecord = {
    tag,
    links: [],
    submits: [],
    serverErrors: [],
    commandFailures: [],
    trace: [],
    tally: {},
  };
  let client = 0;
  const customer = () => fromClient(1 + (client++ % 60_000));
  const noted = (what: string, answer: Answer): Answer => {
    if (answer.status >= 500) {
      const body = typeof answer.body === 'string' ? answer.body.slice(0, 200) : JSON.stringify(answer.body);
      record.serverErrors.push(`${what} answered ${answer.status}: ${body}`);
    }
    return answer;
  };
  const merchant = async (what: string, method: string, path: string, json?: unknown) =>
    noted(what, await api(target, method, path, json));

  // ---- the links, made at once ----
  const made = await Promise.all(
    scenario.links.map(async (spec, i): Promise<RunLink | undefined> => {
      const amount = spec.kind === 'multi' ? AMOUNTS.multi : AMOUNTS[spec.kind];
      const document: { invoice_id?: string; order_id?: string } = {};
      if (spec.document === 'invoice') {
        const invoice = await merchant(`L${i}: create invoice`, 'POST', '/v1/invoices', {
          number: `MM-${tag}-${i}`,
          amount_due: amount,
          currency: 'USD',
          due_date: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
        });
        if (invoice.status !== 201) return undefined;
        document.invoice_id = invoice.body.id;
      } else if (spec.document === 'order') {
        const order = await merchant(`L${i}: create order`, 'POST', '/v1/orders', {
          amount,
          currency: 'USD',
        });
        if (order.status !== 201) return undefined;
        document.order_id = order.body.id;
      }
      const created = await merchant(`L${i}: create link`, 'POST', '/v1/payment_links', {
        amount,
        currency: 'USD',
        description: `money model ${tag} L${i}`,
        max_payments: spec.kind === 'multi' ? spec.uses : 1,
        ...(spec.kind === 'partial' ? { accept_partial: true } : {}),
        expires_in: spec.shortExpiry ? SHORT_EXPIRY : LONG_EXPIRY,
        ...document,
      });
      record.trace.push(
        `L${i}: create → ${created.status}${created.status === 201 ? ` ${created.body.id}` : ''}`,
      );
      // Refused (a multi-use link for a document, once documents are checked): not part of the run.
      // (An answer of 500 or more is a violation of its own, noted above.)
      if (created.status !== 201) return undefined;
      return {
        id: created.body.id,
        token: tokenOf(created.body),
        spec,
        ...(document.invoice_id ? { invoiceId: document.invoice_id } : {}),
        ...(document.order_id ? { orderId: document.order_id } : {}),
        sessions: [],
      };
    }),
  );
  record.links.push(...made.filter((l): l is RunLink => l !== undefined));
  await observe(target, record, -1);

  const count = (what: Happening, times = 1) => {
    record.tally[what] = (record.tally[what] ?? 0) + times;
  };
  const linkAt = (n: number) => record.links[n % Math.max(record.links.length, 1)];
  /** Commands on a session pick among the links that have one: a checkout is on a link paid at. */
  const linkWithSessionsAt = (n: number) => {
    const candidates = record.links.filter((l) => l.sessions.length > 0);
    return candidates[n % Math.max(candidates.length, 1)];
  };
  const ON_SESSIONS = new Set<Command['kind']>(['submit', 'decline', 'refund', 'replay']);
  const sessionAt = (link: RunLink, n: number) => link.sessions[n % Math.max(link.sessions.length, 1)];

  async function checkout(sessionId: string, outcome: 'succeed' | 'decline') {
    return noted(
      `${outcome} ${sessionId}`,
      await send(target.baseUrl, {
        method: 'POST',
        path: `/sandbox/checkout/${sessionId}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...customer() },
        body: new URLSearchParams({ outcome }).toString(),
      }),
    ).status;
  }

  async function run(c: Command): Promise<Outcome> {
    const name = describeCommand(c);
    const link = ON_SESSIONS.has(c.kind) ? linkWithSessionsAt(c.link) : linkAt(c.link);
    if (!link) return { line: `${name}: no ${ON_SESSIONS.has(c.kind) ? 'session' : 'link'}` };
    switch (c.kind) {
      case 'open': {
        const page = noted(
          `view ${link.id}`,
          await send(target.baseUrl, { method: 'GET', path: `/l/${link.token}`, headers: customer() }),
        );
        const part = link.spec.kind === 'partial' ? PARTIAL_PARTS[c.part % PARTIAL_PARTS.length] : undefined;
        const pay = noted(
          `pay ${link.id}`,
          await send(target.baseUrl, {
            method: 'POST',
            path: `/l/${encodeURIComponent(link.token)}/pay`,
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...customer() },
            body: new URLSearchParams(
              part === undefined ? {} : { amount: (part / 100).toFixed(2) },
            ).toString(),
          }),
        );
        const id = /\/sandbox\/checkout\/(ps_[A-Za-z0-9_-]+)/.exec(pay.headers.get('location') ?? '')?.[1];
        return {
          line: `${name}: page ${page.status}, pay ${pay.status}${id ? ` → ${id}` : ''}`,
          ...(id ? { session: { link, id } } : {}),
        };
      }
      case 'submit':
      case 'decline': {
        const sessionId = sessionAt(link, c.session);
        if (!sessionId) return { line: `${name}: no session` };
        const outcome = c.kind === 'submit' ? 'succeed' : 'decline';
        const status = await checkout(sessionId, outcome);
        const line = `${name}: ${sessionId} → ${status}`;
        if (c.kind === 'decline')
          return { line, ...(status === 303 ? { happened: 'declined' as const } : {}) };
        return {
          line,
          submit: { linkId: link.id, sessionId, status, captured: status === 303 },
          ...(status === 303 ? { happened: 'captured' as const } : {}),
        };
      }
      case 'cancel': {
        const r = await merchant(`cancel ${link.id}`, 'POST', `/v1/payment_links/${link.id}/cancel`, {});
        return {
          line: `${name}: ${link.id} → ${r.status}`,
          ...(r.status === 200 ? { happened: 'cancelled' as const } : {}),
        };
      }
      case 'expire': {
        if (!link.spec.shortExpiry) return { line: `${name}: expires in 1h, nothing to wait for` };
        const { expires_at: expiresAt } = await target
          .db('payment_links')
          .where({ id: link.id })
          .first('expires_at');
        const row = await until(
          async () => {
            const r = await target.db('payment_links').where({ id: link.id }).first('status');
            return r && TERMINAL.has(r.status) ? r : undefined;
          },
          Math.max(0, new Date(expiresAt).getTime() - Date.now()) + EXPIRY_GRACE_MS,
          `${link.id} to close`,
        );
        return {
          line: `${name}: ${link.id} is ${row.status}`,
          ...(row.status === 'expired' ? { happened: 'expired' as const } : {}),
        };
      }
      case 'refund': {
        const sessionId = sessionAt(link, c.session);
        if (!sessionId) return { line: `${name}: no session` };
        const payment = await target
          .db('payments')
          .where({ account_id: target.accountId, session_id: sessionId, status: 'succeeded' })
          .orderBy('id')
          .first('id', 'amount');
        if (!payment) return { line: `${name}: ${sessionId} has no payment (yet)` };
        const amount = c.half ? Math.max(1, Math.floor(Number(payment.amount) / 2)) : undefined;
        const r = await merchant(
          `refund ${payment.id}`,
          'POST',
          `/v1/payments/${payment.id}/refund`,
          amount === undefined ? {} : { amount },
        );
        return {
          line: `${name}: ${payment.id} → ${r.status}`,
          ...(r.status === 200 ? { happened: 'refunded' as const } : {}),
        };
      }
      case 'replay': {
        const sessionId = sessionAt(link, c.session);
        if (!sessionId) return { line: `${name}: no session` };
        const events = await storedCallbacks(target.db, target.accountId, [sessionId]);
        if (events.length === 0) return { line: `${name}: ${sessionId} has no callback (yet)` };
        const statuses = await Promise.all(
          events.flatMap((callback) => [0, 1].map(() => redeliver(target, callback, noted))),
        );
        return {
          line: `${name}: ${events.length} callback(s) of ${sessionId}, twice each → ${statuses.join(',')}`,
          happened: 'callbacks replayed',
          times: statuses.length,
        };
      }
      case 'reissue': {
        const r = await merchant(`reissue ${link.id}`, 'POST', `/v1/payment_links/${link.id}/reissue`, {});
        const line = `${name}: ${link.id} → ${r.status}${r.status === 201 ? ` ${r.body.id}` : ''}`;
        if (r.status !== 201) return { line };
        return {
          line,
          happened: 'reissued',
          link: {
            id: r.body.id,
            token: tokenOf(r.body),
            spec: link.spec,
            ...(r.body.invoice_id ? { invoiceId: r.body.invoice_id } : {}),
            ...(r.body.order_id ? { orderId: r.body.order_id } : {}),
            sessions: [],
          },
        };
      }
    }
  }

  for (const [i, step] of scenario.steps.entries()) {
    const outcomes = await Promise.all(
      step.map((c) =>
        run(c).catch((err: unknown): Outcome => {
          const line = `${describeCommand(c)}: failed: ${err instanceof Error ? err.message : String(err)}`;
          record.commandFailures.push(line);
          return { line };
        }),
      ),
    );
    for (const o of outcomes) {
      record.trace.push(`step ${i + 1}: ${o.line}`);
      if (o.session && !o.session.link.sessions.includes(o.session.id)) {
        o.session.link.sessions.push(o.session.id);
        count('sessions opened');
      }
      if (o.happened) count(o.happened, o.times);
      if (o.link) record.links.push(o.link);
      if (o.submit) record.submits.push({ ...o.submit, step: i });
    }
    await observe(target, record, i);
  }
  return record;
}

/** Notes the links a step left closed (first sighting only). */
async function observe(target: Target, record: RunRecord, afterStep: number): Promise<void> {
  const open = record.links.filter((l) => !l.seenClosed);
  if (open.length === 0) return;
  const rows: { id: string; status: string }[] = await target
    .db('payment_links')
    .where({ account_id: target.accountId })
    .whereIn(
      'id',
      open.map((l) => l.id),
    )
    .select('id', 'status');
  for (const row of rows) {
    const link = open.find((l) => l.id === row.id);
    if (link && TERMINAL.has(row.status)) link.seenClosed = { afterStep, status: row.status };
  }
}
