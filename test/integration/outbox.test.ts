/**
 * The transactional outbox on the real stack: a link's webhooks and closing message are written
 * with the transition they announce and delivered by the worker's drainer, exactly once, with the
 * payloads the workflow's own webhooks had; a dead endpoint retries in the outbox while the link's
 * workflow has long finished; a drainer that dies after claiming hands its row over when the lease
 * ends; a retried write enqueues nothing twice; two drainers never deliver the same row twice.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookEvent } from '../../activities/webhooks';
import { createAccount } from '../../src/accounts/accounts';
import { createLinkStore } from '../../src/links/link-store';
import { createChannels } from '../../src/notifications/channels';
import { createNotificationStore } from '../../src/notifications/notification-store';
import { createOutboxDrainer, type OutboxDrainerDeps, type OutboxTuning } from '../../src/outbox/drainer';
import { createOutboxStore } from '../../src/outbox/outbox-store';
import { createPaymentRecorder, type RecordPaymentsInput } from '../../src/payments/record-payment';
import { createWebhookStore } from '../../src/webhooks/webhook-store';
import { webhookItem } from '../../workflows/payment-link/outbox-items';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { linkTools } from '../helpers/links';
import { PUBLIC_BASE_URL, type Stack, startStack, TEST_NOTIFICATION_CONFIG } from '../helpers/stack';
import { eventually, TEST_SECRETS_KEY, WAIT_MS } from '../helpers/temporal';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let tools: ReturnType<typeof linkTools>;

beforeAll(async () => {
  stack = await startStack();
  receiver = await startWebhookReceiver();
  tools = linkTools(stack);
  expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url: receiver.url } })).status).toBe(
    200,
  );
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const outboxRows = (linkId: string) => stack.db('outbox').where({ link_id: linkId }).orderBy('id');
const receivedFor = (eventId: string) => receiver.received.filter((r) => r.event.id === eventId);
const scheduledActivities = async (linkId: string) =>
  ((await stack.temporal.workflow.getHandle(linkId).fetchHistory()).events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((name): name is string => name !== undefined);

/** Until every outbox row of the link is delivered (each webhook once: the rows say so). */
const untilDelivered = (linkId: string, count: number) =>
  eventually(
    async () => {
      const rows = await outboxRows(linkId);
      return rows.length === count && rows.every((r) => r.delivered_at !== null) ? rows : undefined;
    },
    WAIT_MS,
    `${count} delivered outbox rows of ${linkId}`,
  );

/** A link of the stack's account whose workflow is over (cancelled), to hang outbox rows on. */
async function closedLink(): Promise<{ id: string; accountId: string }> {
  const { id, handle } = await tools.create({ amount: 700 });
  expect((await stack.request('POST', `/v1/payment_links/${id}/cancel`, { json: {} })).status).toBe(200);
  await tools.untilFinished(handle);
  await untilDelivered(id, 1); // its own payment_link.cancelled
  return { id, accountId: stack.account.accountId };
}

/** A drainer of the test's own, beside (or instead of) the stack worker's. */
const drainerDeps = (
  channels: ReturnType<typeof createChannels>,
  tuning: Partial<OutboxTuning>,
  webhookTimeoutMs?: number,
): OutboxDrainerDeps => ({
  db: stack.db,
  webhooks: {
    webhooks: createWebhookStore(stack.db, TEST_SECRETS_KEY),
    egress: { allowPrivate: true },
    timeoutMs: webhookTimeoutMs,
  },
  messages: {
    db: stack.db,
    links: createLinkStore(stack.db),
    notifications: createNotificationStore(stack.db),
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: PUBLIC_BASE_URL,
  },
  ratePerSecond: { email: 100, sms: 100 },
  tuning,
});

const testEvent = (link: { id: string; accountId: string }, n: number): WebhookEvent => ({
  id: `evt_${link.id}_test:${n}`,
  type: 'test.event',
  accountId: link.accountId,
  linkId: link.id,
  createdAt: new Date().toISOString(),
  data: { n },
});

describe('a paid link', () => {
  it('announces the payment once per event with the same payloads, sends the receipt by email, and schedules neither', async () => {
    const email = 'olga.outbox@example.com';
    const { id, row, handle } = await tools.create({
      amount: 1500,
      customer: { email },
      channels: ['email'],
      metadata: { order: 'A-17' },
    });
    // The link's own mail first (a payment that closed the link before it would suppress it).
    await eventually(async () => {
      const mail = await stack.db('notifications').where({ link_id: id, message_key: 'link:email' }).first();
      return mail?.status === 'sent' ? true : undefined;
    });
    await tools.pay(handle, { paymentId: 'pi_outbox_paid', amount: 1500 });
    await tools.untilFinished(handle);

    const rows = await untilDelivered(id, 3);
    expect(rows.map((r) => [r.kind, r.dedupe_key, r.attempts, r.outcome])).toEqual([
      ['message', 'message:receipt', 1, 'sent'],
      ['webhook', `evt_${id}_payment:sandbox:pi_outbox_paid`, 1, 'delivered'],
      ['webhook', `evt_${id}_status:paid`, 1, 'delivered'],
    ]);
    const paymentLink = {
      id,
      status: 'paid',
      amount: 1500,
      amount_paid: 1500,
      currency: 'USD',
      reference: null,
      metadata: { order: 'A-17' },
      invoice_id: null,
      order_id: null,
      customer_id: row.customer_id,
    };
    const [succeeded] = receivedFor(`evt_${id}_payment:sandbox:pi_outbox_paid`);
    const [paid] = receivedFor(`evt_${id}_status:paid`);
    expect(receivedFor(`evt_${id}_payment:sandbox:pi_outbox_paid`)).toHaveLength(1);
    expect(receivedFor(`evt_${id}_status:paid`)).toHaveLength(1);
    // The shape linkWebhookEvent has always sent, key for key.
    expect(succeeded?.event).toEqual({
      id: `evt_${id}_payment:sandbox:pi_outbox_paid`,
      object: 'event',
      type: 'payment.succeeded',
      created: expect.any(String),
      data: {
        payment_link: paymentLink,
        payment: {
          provider: 'sandbox',
          payment_id: 'pi_outbox_paid',
          amount: 1500,
          currency: 'USD',
          flags: [],
          refund_review: false,
        },
      },
    });
    expect(paid?.event).toEqual({
      id: `evt_${id}_status:paid`,
      object: 'event',
      type: 'payment_link.paid',
      created: expect.any(String),
      data: { payment_link: paymentLink },
    });

    const receipt = await eventually(
      async () =>
        stack.peers.smtp.messages.find(
          (m) => m.envelopeTo.includes(email) && /^Receipt: /.test(m.parsed.subject ?? ''),
        ),
      WAIT_MS,
      'the receipt email',
    );
    expect(receipt.parsed.subject).toContain('Test shop');
    const notifications = await stack.db('notifications').where({ link_id: id }).orderBy('message_key');
    expect(notifications.map((n) => [n.message_key, n.message_type, n.status])).toEqual([
      ['link:email', 'link', 'sent'],
      ['receipt', 'receipt', 'sent'],
    ]);
    // The workflow sent the link itself; the webhooks and the receipt were the write's. (The row
    // itself is stored by a local activity since `lean-lifecycle`: a marker, not a scheduled one.)
    expect(await scheduledActivities(id)).toEqual(['notifyCustomer', 'recordPayments']);
  });
});

describe("a merchant's dead endpoint", () => {
  it('does not keep the link workflow open: the outbox row retries with backoff, then gives up after a day', async () => {
    const shop = await createAccount(stack.db, 'Dead endpoint shop', TEST_ACCOUNT_ZONE);
    const closedPort = await new Promise<number>((found) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => found(port));
      });
    });
    const as = { key: shop.apiKey };
    const url = `http://127.0.0.1:${closedPort}/hooks`;
    expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url }, ...as })).status).toBe(200);
    const link = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 300, currency: 'USD' },
      ...as,
    });
    expect(link.status).toBe(201);
    expect(
      (await stack.request('POST', `/v1/payment_links/${link.body.id}/cancel`, { json: {}, ...as })).status,
    ).toBe(200);
    await tools.untilFinished(stack.temporal.workflow.getHandle(link.body.id));

    const eventId = `evt_${link.body.id}_status:cancelled`;
    const retried = await eventually(
      async () => {
        const [row] = await outboxRows(link.body.id);
        return row?.attempts >= 2 && row.lease_token === null ? row : undefined;
      },
      WAIT_MS,
      'a second failed attempt',
    );
    expect(retried).toMatchObject({ dedupe_key: eventId, delivered_at: null, given_up_at: null });
    expect(retried.last_error).toMatch(/^webhook \S+ to \S+ failed: connection_refused$/);
    const attempts = await stack.db('webhook_deliveries').where({ event_id: eventId }).orderBy('attempt');
    expect(attempts.slice(0, 2).map((a) => [a.attempt, a.response_status, a.error])).toEqual([
      [1, null, 'connection_refused'],
      [2, null, 'connection_refused'],
    ]);
    // The delays double: 5 s after the first attempt, 10 s after the second (plus the attempt's own time).
    if (retried.attempts === 2) {
      const delayMs = retried.next_attempt_at.getTime() - retried.last_attempt_at.getTime();
      expect(delayMs).toBeGreaterThanOrEqual(10_000);
      expect(delayMs).toBeLessThan(20_000);
    }

    // A day later (its creation moved back): the next failure gives it up, and says so.
    await stack
      .db('outbox')
      .where({ id: retried.id })
      .update({
        created_at: stack.db.raw("now() - interval '25 hours'"),
        next_attempt_at: stack.db.fn.now(),
      });
    const given = await eventually(
      async () => {
        const row = await stack.db('outbox').where({ id: retried.id }).first();
        return row?.given_up_at ? row : undefined;
      },
      WAIT_MS,
      'the row to be given up',
    );
    expect(given).toMatchObject({ outcome: 'gave_up', delivered_at: null });
    expect(given.last_error).toMatch(/failed/);
  });
});

describe('leases and duplicates', () => {
  it('a drainer that dies between claim and delivery: the row is delivered once its lease ends', async () => {
    const link = await closedLink();
    await stack.stopWorker();
    try {
      const event = testEvent(link, 1);
      await createLinkStore(stack.db).applyChange({
        linkId: link.id,
        accountId: link.accountId,
        events: [],
        outbox: [webhookItem(event)],
      });
      // Claimed by a drainer that then died: nothing is sent, the lease runs out.
      const claimed = await createOutboxStore(stack.db).claim(50, 2, 50);
      expect(claimed.map((r) => r.dedupe_key)).toContain(event.id);
      expect(receivedFor(event.id)).toHaveLength(0);
    } finally {
      await stack.startWorker();
    }
    const [, row] = await untilDelivered(link.id, 2);
    expect(row).toMatchObject({ dedupe_key: `evt_${link.id}_test:1`, attempts: 2, outcome: 'delivered' });
    expect(receivedFor(`evt_${link.id}_test:1`)).toHaveLength(1);
    const attempts = await stack.db('webhook_deliveries').where({ event_id: `evt_${link.id}_test:1` });
    expect(attempts.map((a) => [a.attempt, a.response_status])).toEqual([[2, 200]]);
  });

  it('a retried write enqueues once: recordChange and recordPayments', async () => {
    const email = 'rita.retry@example.com';
    const { id, row } = await tools.create({ amount: 900, customer: { email }, channels: [] });
    const link = { linkId: id, accountId: stack.account.accountId };
    const item = webhookItem(testEvent({ id, accountId: link.accountId }, 2));
    const store = createLinkStore(stack.db);
    await store.applyChange({ ...link, events: [], outbox: [item] });
    await store.applyChange({ ...link, events: [], outbox: [item] });

    const input: RecordPaymentsInput = {
      ...link,
      before: {
        status: 'active',
        amountPaid: 0,
        paymentsCount: 0,
        terms: { amount: 900, currency: 'USD', maxPayments: 1, acceptPartial: false, minPartialAmount: null },
      },
      payments: [
        {
          rowId: 'pay_outbox_retry',
          payment: { provider: 'sandbox', paymentId: 'pi_outbox_retry', amount: 900, currency: 'USD' },
        },
      ],
      now: new Date().toISOString(),
      announce: {
        link: {
          id,
          accountId: link.accountId,
          status: 'active',
          amount: 900,
          amountPaid: 0,
          currency: 'USD',
          reference: null,
          metadata: {},
          invoiceId: null,
          orderId: null,
          customerId: row.customer_id,
        },
        receiptChannel: 'email',
      },
    };
    const recordPayments = createPaymentRecorder(stack.db);
    const first = await recordPayments(input);
    // The answer was lost: the activity runs again with the same input.
    const again = await recordPayments(input);
    expect(again).toEqual(first);

    const rows = await untilDelivered(id, 4);
    expect(rows.map((r) => r.dedupe_key).sort()).toEqual(
      [
        item.key,
        'message:receipt',
        `evt_${id}_payment:sandbox:pi_outbox_retry`,
        `evt_${id}_status:paid`,
      ].sort(),
    );
    expect(receivedFor(item.key)).toHaveLength(1);
    expect(receivedFor(`evt_${id}_status:paid`)).toHaveLength(1);
    expect(
      stack.peers.smtp.messages.filter(
        (m) => m.envelopeTo.includes(email) && /^Receipt: /.test(m.parsed.subject ?? ''),
      ),
    ).toHaveLength(1);
  });

  it('forgets delivered rows after a week; rows given up stay', async () => {
    const link = await closedLink();
    await createLinkStore(stack.db).applyChange({
      linkId: link.id,
      accountId: link.accountId,
      events: [],
      outbox: [webhookItem(testEvent(link, 400)), webhookItem(testEvent(link, 401))],
    });
    const rows = await untilDelivered(link.id, 3);
    // One delivered eight days ago, one given up as long ago, one delivered now.
    await stack
      .db('outbox')
      .where({ id: rows[1].id })
      .update({ delivered_at: stack.db.raw("now() - interval '8 days'") });
    await stack
      .db('outbox')
      .where({ id: rows[2].id })
      .update({
        delivered_at: null,
        given_up_at: stack.db.raw("now() - interval '8 days'"),
        outcome: 'gave_up',
      });
    expect(await createOutboxStore(stack.db).pruneDelivered(7)).toBeGreaterThanOrEqual(1);
    expect((await outboxRows(link.id)).map((r) => r.id)).toEqual([rows[0].id, rows[2].id]);
  });

  it('two drainers side by side never deliver a row twice', async () => {
    const link = await closedLink();
    const events = Array.from({ length: 40 }, (_, n) => testEvent(link, 100 + n));
    const channels = createChannels(TEST_NOTIFICATION_CONFIG, PUBLIC_BASE_URL, stack.peers);
    const deps = drainerDeps(channels, { concurrency: 4, perAccountConcurrency: 4 });
    await stack.stopWorker();
    const drainers = [createOutboxDrainer(deps), createOutboxDrainer(deps)];
    try {
      await createLinkStore(stack.db).applyChange({
        linkId: link.id,
        accountId: link.accountId,
        events: [],
        outbox: events.map(webhookItem),
      });
      for (const d of drainers) d.start();
      const rows = await untilDelivered(link.id, 41);
      expect(rows.every((r) => r.attempts === 1)).toBe(true);
    } finally {
      await Promise.all(drainers.map((d) => d.stop()));
      channels.close();
      await stack.startWorker();
    }
    for (const e of events) expect(receivedFor(e.id)).toHaveLength(1);
    const attempts = await stack.db('webhook_deliveries').whereIn(
      'event_id',
      events.map((e) => e.id),
    );
    expect(attempts).toHaveLength(40);
  });
});

describe("one merchant's hanging endpoint", () => {
  it("takes at most its share of the drainer's slots: another account's webhook goes meanwhile", async () => {
    // Accepts every request and never answers.
    let open = 0;
    let mostOpen = 0;
    const sockets = new Set<Socket>();
    const hanging = createHttpServer((req) => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      req.socket.once('close', () => {
        open -= 1;
      });
    });
    hanging.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((ready) => hanging.listen(0, '127.0.0.1', ready));
    const { port } = hanging.address() as { port: number };

    const slowShop = await createAccount(stack.db, 'Hanging endpoint shop', TEST_ACCOUNT_ZONE);
    const as = { key: slowShop.apiKey };
    const url = `http://127.0.0.1:${port}/hooks`;
    expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url }, ...as })).status).toBe(200);
    const slowLink = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 400, currency: 'USD' },
      ...as,
    });
    expect(slowLink.status).toBe(201);
    const healthy = await closedLink();

    await stack.stopWorker();
    const channels = createChannels(TEST_NOTIFICATION_CONFIG, PUBLIC_BASE_URL, stack.peers);
    const drainer = createOutboxDrainer(
      drainerDeps(channels, { concurrency: 2, perAccountConcurrency: 1 }, 120_000),
    );
    try {
      const store = createLinkStore(stack.db);
      const slow = { id: slowLink.body.id as string, accountId: slowShop.accountId };
      // The hanging merchant's backlog first, then one webhook of another account.
      await store.applyChange({
        linkId: slow.id,
        accountId: slow.accountId,
        events: [],
        outbox: Array.from({ length: 5 }, (_, n) => webhookItem(testEvent(slow, 200 + n))),
      });
      const event = testEvent(healthy, 300);
      await store.applyChange({
        linkId: healthy.id,
        accountId: healthy.accountId,
        events: [],
        outbox: [webhookItem(event)],
      });
      drainer.start();
      await eventually(
        async () => (receivedFor(event.id).length > 0 ? true : undefined),
        WAIT_MS,
        "the other account's webhook",
      );
      // Delivered while the hanging merchant holds one slot, never two.
      await eventually(async () => (open === 1 ? true : undefined), WAIT_MS, 'the hanging request');
      expect(mostOpen).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await drainer.stop();
      channels.close();
      await new Promise<void>((done) => hanging.close(() => done()));
      await stack.startWorker();
    }
  });
});
