/**
 * Documents are checked at the door (issue 21, case 4 and the refund of case 9), over HTTP on the
 * real stack: a link for an invoice or order made through `POST /v1/payment_links` belongs to the
 * caller's account, is in the document's currency, is single-use and asks at most the open
 * balance; an order follows what its links collected as an invoice does; a refund reduces what
 * the document collected, its status says so, and the merchant hears of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

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

const api = (method: string, path: string, json?: unknown, key?: string) =>
  stack.request(method, path, { ...(json === undefined ? {} : { json }), ...(key ? { key } : {}) });
const linkPath = (link: { url: string }) => new URL(link.url).pathname;
let numbered = 0;
const dueIn5Days = () => new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);

async function createInvoice(amountDue: number, currency = 'USD', key?: string) {
  const r = await api(
    'POST',
    '/v1/invoices',
    { number: `DOC-${Date.now()}-${++numbered}`, amount_due: amountDue, currency, due_date: dueIn5Days() },
    key,
  );
  expect(r.status).toBe(201);
  return r.body as { id: string };
}
async function createOrder(amount: number, currency = 'USD', key?: string) {
  const r = await api('POST', '/v1/orders', { amount, currency }, key);
  expect(r.status).toBe(201);
  return r.body as { id: string };
}

/** Pay on the link page, then complete the sandbox checkout: the payment's provider id. */
async function payThroughSandbox(link: { url: string }, amount?: string) {
  const pay = await stack.postForm(`${linkPath(link)}/pay`, amount === undefined ? {} : { amount });
  expect(pay.status).toBe(303);
  const done = await stack.postForm(pay.headers.get('location') as string, { outcome: 'succeed' });
  expect(done.status).toBe(303);
}

const linksOfAccount = async (accountId: string) =>
  Number(
    (await stack.db('payment_links').where({ account_id: accountId }).count<{ n: string }[]>({ n: '*' }))[0]
      ?.n,
  );

describe('a document link made through POST /v1/payment_links', () => {
  it('is refused with a 400 naming the field unless it fits the document; nothing is stored', async () => {
    const invoice = await createInvoice(5000);
    const order = await createOrder(2500);
    const other = await createAccount(stack.db, 'Someone else');
    const theirInvoice = await createInvoice(5000, 'USD', other.apiKey);
    const theirOrder = await createOrder(2500, 'USD', other.apiKey);
    const before = await linksOfAccount(stack.account.accountId);

    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        "another account's invoice",
        { amount: 5000, currency: 'USD', invoice_id: theirInvoice.id },
        'invoice_id',
        /No such invoice/,
      ],
      [
        "another account's order",
        { amount: 2500, currency: 'USD', order_id: theirOrder.id },
        'order_id',
        /No such order/,
      ],
      [
        'an invoice in another currency',
        { amount: 5000, currency: 'EUR', invoice_id: invoice.id },
        'currency',
        /must be USD, the invoice's currency/,
      ],
      [
        'an order in another currency',
        { amount: 2500, currency: 'EUR', order_id: order.id },
        'currency',
        /must be USD, the order's currency/,
      ],
      [
        'a multi-use link for an order (case 4)',
        { amount: 2500, currency: 'USD', order_id: order.id, max_payments: null },
        'max_payments',
        /must be 1/,
      ],
      [
        'a link for two payments of an invoice',
        { amount: 2500, currency: 'USD', invoice_id: invoice.id, max_payments: 2 },
        'max_payments',
        /must be 1/,
      ],
      [
        'more than the invoice is owed',
        { amount: 5001, currency: 'USD', invoice_id: invoice.id },
        'amount',
        /at most 5000/,
      ],
      [
        'more than the order is owed',
        { amount: 2600, currency: 'USD', order_id: order.id },
        'amount',
        /at most 2500/,
      ],
    ];
    for (const [name, body, param, message] of cases) {
      const r = await api('POST', '/v1/payment_links', body);
      expect(r.status, name).toBe(400);
      expect(r.body.error, name).toMatchObject({ type: 'invalid_request_error', param });
      expect(r.body.error.message, name).toMatch(message);
    }
    expect(await linksOfAccount(stack.account.accountId)).toBe(before);
    // Nothing holds either document's slot: a link that fits is made.
    expect(
      (await api('POST', '/v1/payment_links', { amount: 5000, currency: 'USD', invoice_id: invoice.id }))
        .status,
    ).toBe(201);
    expect((await api('POST', `/v1/orders/${order.id}/payment_link`, {})).status).toBe(201);
    // Nor did the other account's documents get a link.
    expect(await linksOfAccount(other.accountId)).toBe(0);
  });

  it('asks at most what is left of a partly paid invoice; a paid one takes none', async () => {
    const invoice = await createInvoice(4000);
    const first = await api('POST', `/v1/invoices/${invoice.id}/payment_link`, {});
    expect(first.status).toBe(201);
    await payThroughSandbox(first.body, '15.00');
    await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'partially_paid');
    await api('POST', `/v1/payment_links/${first.body.id}/cancel`, {});
    await stack.untilStatus(`/v1/payment_links/${first.body.id}`, 'cancelled');

    const tooMuch = await api('POST', '/v1/payment_links', {
      amount: 4000,
      currency: 'USD',
      invoice_id: invoice.id,
    });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toMatchObject({ param: 'amount' });
    expect(tooMuch.body.error.message).toMatch(/at most 2500/);
    const rest = await api('POST', '/v1/payment_links', {
      amount: 2500,
      currency: 'USD',
      invoice_id: invoice.id,
    });
    expect(rest.status).toBe(201);
    await payThroughSandbox(rest.body);
    await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'paid');
    const none = await api('POST', '/v1/payment_links', {
      amount: 1,
      currency: 'USD',
      invoice_id: invoice.id,
    });
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ param: 'invoice_id' });
    expect(none.body.error.message).toMatch(/already paid/);
  });

  it("an order's status follows what its link collected: partially paid, then paid", async () => {
    const order = await createOrder(2500);
    const link = await api('POST', '/v1/payment_links', {
      amount: 2500,
      currency: 'USD',
      order_id: order.id,
      accept_partial: true,
    });
    expect(link.status).toBe(201);
    await payThroughSandbox(link.body, '10.00');
    const partly = await stack.untilStatus(`/v1/orders/${order.id}`, 'partially_paid');
    expect(partly).toMatchObject({ amount: 2500, amount_paid: 1000, amount_refunded: 0 });
    await payThroughSandbox(link.body, '15.00');
    const paid = await stack.untilStatus(`/v1/orders/${order.id}`, 'paid');
    expect(paid).toMatchObject({ amount_paid: 2500 });
    await stack.untilStatus(`/v1/payment_links/${link.body.id}`, 'paid');
  });
});

describe('a refund on a document', () => {
  const refund = (paymentId: string, amount?: number) =>
    api('POST', `/v1/payments/${paymentId}/refund`, amount === undefined ? {} : { amount });
  const paymentOf = async (linkId: string) =>
    (await api('GET', `/v1/payment_links/${linkId}/payments`)).body.data[0] as { id: string; amount: number };

  it('reduces what the invoice collected, says so in its status and announces invoice.refunded', async () => {
    const invoice = await createInvoice(5000);
    const link = await api('POST', `/v1/invoices/${invoice.id}/payment_link`, {});
    await payThroughSandbox(link.body);
    await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'paid');
    const payment = await paymentOf(link.body.id);

    const part = await refund(payment.id, 2000);
    expect(part.body).toMatchObject({ status: 'succeeded', amount: 2000 });
    expect((await api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({
      status: 'partially_refunded',
      amount_due: 5000,
      amount_paid: 5000,
      amount_refunded: 2000,
    });
    const announced = await eventually(
      async () =>
        receiver.received
          .map((r) => r.event as { id: string; type: string; data: Record<string, any> })
          .find((e) => e.type === 'invoice.refunded' && e.data.invoice?.id === invoice.id),
      undefined,
      'the invoice.refunded webhook',
    );
    expect(announced.data).toMatchObject({
      invoice: { id: invoice.id, status: 'partially_refunded', amount_paid: 5000, amount_refunded: 2000 },
      refund: { id: part.body.id, amount: 2000, payment: payment.id },
      payment_link: { id: link.body.id },
    });

    const rest = await refund(payment.id);
    expect(rest.body).toMatchObject({ status: 'succeeded', amount: 3000 });
    expect((await api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({
      status: 'refunded',
      amount_paid: 5000,
      amount_refunded: 5000,
    });
    // The invoice is owed again in full: a new link may ask for it.
    expect(
      (await api('POST', '/v1/payment_links', { amount: 5000, currency: 'USD', invoice_id: invoice.id }))
        .status,
    ).toBe(201);
  });

  it('reduces what the order collected and announces order.refunded', async () => {
    const order = await createOrder(1800);
    const link = await api('POST', `/v1/orders/${order.id}/payment_link`, {});
    await payThroughSandbox(link.body);
    await stack.untilStatus(`/v1/orders/${order.id}`, 'paid');
    const payment = await paymentOf(link.body.id);
    const part = await refund(payment.id, 800);
    expect(part.body.status).toBe('succeeded');
    expect((await api('GET', `/v1/orders/${order.id}`)).body).toMatchObject({
      status: 'partially_refunded',
      amount_paid: 1800,
      amount_refunded: 800,
    });
    await eventually(
      async () =>
        receiver.received
          .map((r) => r.event as { type: string; data: Record<string, any> })
          .find(
            (e) =>
              e.type === 'order.refunded' &&
              e.data.order?.id === order.id &&
              e.data.refund?.id === part.body.id,
          ),
      undefined,
      'the order.refunded webhook',
    );
  });
});
