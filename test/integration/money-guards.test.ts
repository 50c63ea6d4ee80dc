/**
 * Money is never collected twice, over HTTP on the real stack: Postgres keeps one open link per
 * invoice and per order, a payment that takes a document past its amount due is flagged for a
 * refund and announced as `payment.flagged`, a paid document closes its other links, and a
 * payment for a finished link reaches the merchant as `payment.flagged` too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';
import { type ReceivedWebhook, startWebhookReceiver } from '../helpers/webhook-receiver';

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  stack = await startStack();
  receiver = await startWebhookReceiver();
  expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url: receiver.url } })).status).toBe(
    200,
  );
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const api = (method: string, path: string, json?: unknown) =>
  stack.request(method, path, json === undefined ? {} : { json });
const linkPath = (link: { url: string }) => new URL(link.url).pathname;
let invoiceNumber = 0;
const createInvoice = async (amountDue: number) => {
  const r = await api('POST', '/v1/invoices', {
    number: `MG-${Date.now()}-${++invoiceNumber}`,
    amount_due: amountDue,
    currency: 'USD',
    due_date: new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10),
  });
  expect(r.status).toBe(201);
  return r.body as { id: string };
};

/** Pay pressed on the link page: the session it opened at the sandbox. */
async function openSession(link: { url: string }): Promise<string> {
  const pay = await stack.postForm(`${linkPath(link)}/pay`, {});
  expect(pay.status).toBe(303);
  return (pay.headers.get('location') as string).split('/').at(-1) as string;
}

/** The sandbox's signed callback for a session, as the provider would send it. */
async function providerPays(sessionId: string, amount: number, paymentId = `pi_${sessionId}_${amount}`) {
  const body = JSON.stringify({
    id: `evt_${paymentId}_${Math.random().toString(36).slice(2)}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: paymentId, amount, currency: 'USD' },
  });
  const res = await stack.sandboxCallback(body);
  expect(res.status).toBe(200);
  return paymentId;
}

const webhook = (type: string, match: (e: ReceivedWebhook['event']) => boolean) =>
  eventually(
    async () => receiver.received.map((r) => r.event).find((e) => e.type === type && match(e)),
    undefined,
    `a ${type} webhook`,
  );

describe('one open link per document', () => {
  it('10 concurrent invoice-link requests: one 201, nine 409 naming the open link', async () => {
    const invoice = await createInvoice(5000);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api('POST', `/v1/invoices/${invoice.id}/payment_link`, {})),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    const winner = created[0]?.body.id as string;
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(9);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: 'document_has_open_link', payment_link: winner });
    }
    const links = await api('GET', `/v1/payment_links?invoice_id=${invoice.id}`);
    expect(links.body.data.map((l: { id: string }) => l.id)).toEqual([winner]);
  });

  it('10 concurrent order-link requests: one 201', async () => {
    const order = await api('POST', '/v1/orders', { amount: 1200, currency: 'USD' });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api('POST', `/v1/orders/${order.body.id}/payment_link`, {})),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    const links = await api('GET', `/v1/payment_links?order_id=${order.body.id}`);
    expect(links.body.data).toHaveLength(1);
  });

  it('expiry frees the slot; a reissued link takes it', async () => {
    const invoice = await createInvoice(2000);
    const soon = new Date(Date.now() + 2000).toISOString();
    const first = await api('POST', `/v1/invoices/${invoice.id}/payment_link`, { expires_at: soon });
    expect(first.status).toBe(201);
    await stack.untilStatus(`/v1/payment_links/${first.body.id}`, 'expired');

    const reissued = await api('POST', `/v1/payment_links/${first.body.id}/reissue`, {});
    expect(reissued.status).toBe(201);
    expect(reissued.body.invoice_id).toBe(invoice.id);
    const another = await api('POST', `/v1/invoices/${invoice.id}/payment_link`, {});
    expect(another.status).toBe(409);
    expect(another.body.error.payment_link).toBe(reissued.body.id);
  });
});

describe('a document is settled once', () => {
  it('an over-collection is flagged, put up for refund review and announced; the other link closes', async () => {
    const invoice = await createInvoice(5000);
    // Two links open at once for one invoice exist only from before the guard: make one such.
    const legacy = await api('POST', `/v1/invoices/${invoice.id}/payment_link`, {});
    await stack.db('payment_links').where({ id: legacy.body.id }).update({ holds_document: false });
    const current = await api('POST', '/v1/payment_links', {
      amount: 5000,
      currency: 'USD',
      invoice_id: invoice.id,
      accept_partial: true,
    });
    expect(current.status).toBe(201);

    // 3,000 through the current link, then the whole 5,000 through the legacy one: 8,000 of 5,000.
    await providerPays(await openSession(current.body), 3000);
    await stack.untilStatus(`/v1/payment_links/${current.body.id}`, 'partially_paid');
    const paymentId = await providerPays(await openSession(legacy.body), 5000);
    await stack.untilStatus(`/v1/payment_links/${legacy.body.id}`, 'paid');

    const payments = await api('GET', `/v1/payment_links/${legacy.body.id}/payments`);
    expect(payments.body.data).toMatchObject([
      { provider_payment_id: paymentId, amount: 5000, flags: ['over_collected'], refund_review: true },
    ]);
    expect((await api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({
      status: 'paid',
      amount_paid: 8000,
    });
    const flagged = await webhook('payment.flagged', (e) => e.data.payment_link.id === legacy.body.id);
    expect(flagged.data.payment?.flags).toEqual(['over_collected']);
    // One announcement per payment: flagged, never also a success.
    const announced = receiver.received.map((r) => r.event);
    expect(
      announced.some((e) => e.type === 'payment.succeeded' && e.data.payment_link.id === legacy.body.id),
    ).toBe(false);

    // The other link has nothing left to collect: it closes and says why.
    await stack.untilStatus(`/v1/payment_links/${current.body.id}`, 'cancelled');
    const events = await api('GET', `/v1/payment_links/${current.body.id}/events`);
    expect(events.body.data.find((e: { type: string }) => e.type === 'payment_link.cancelled')?.data).toEqual(
      {
        reason: 'document_paid',
        by_payment_link: legacy.body.id,
      },
    );
  });

  it('a payment for a finished link is recorded as late and announced as payment.flagged', async () => {
    const link = await api('POST', '/v1/payment_links', { amount: 700, currency: 'USD', expires_in: 'PT2S' });
    const sessionId = await openSession(link.body);
    await stack.untilStatus(`/v1/payment_links/${link.body.id}`, 'expired');
    // The stack's late-payment window is 1 s: wait until the workflow has finished.
    await eventually(async () =>
      (await stack.temporal.workflow.getHandle(link.body.id).describe()).status.name === 'COMPLETED'
        ? true
        : undefined,
    );
    const paymentId = await providerPays(sessionId, 700);
    const flagged = await webhook('payment.flagged', (e) => e.data.payment_link.id === link.body.id);
    expect(flagged).toMatchObject({
      id: `evt_${link.body.id}_payment:sandbox:${paymentId}`,
      data: { payment: { flags: ['late'], refund_review: true, amount: 700 } },
    });
    // Redelivered by the provider: still one payment, one announcement.
    await providerPays(sessionId, 700, paymentId);
    expect((await api('GET', `/v1/payment_links/${link.body.id}/payments`)).body.data).toHaveLength(1);
  });
});
