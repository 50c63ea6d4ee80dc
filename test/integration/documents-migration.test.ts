/**
 * Migration 20261204190522_documents_and_provider_ids on a database with money in it: rolled back
 * (with the migrations after it) and applied again, it finds what each payment added to its link,
 * and each invoice's and order's collected, refunded and status, from the rows alone.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrationSource } from '../../migrations/index';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

const MIGRATION = '20261204190522_documents_and_provider_ids';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const api = (method: string, path: string, json?: unknown) =>
  stack.request(method, path, json === undefined ? {} : { json });

async function pay(link: { url: string }) {
  const pay = await stack.postForm(`${new URL(link.url).pathname}/pay`, {});
  expect(pay.status).toBe(303);
  return (pay.headers.get('location') as string).split('/').at(-1) as string;
}
async function sandboxPays(sessionId: string, amount: number) {
  const body = JSON.stringify({
    id: `evt_${sessionId}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `pi_${sessionId}`, amount, currency: 'USD' },
  });
  expect((await stack.sandboxCallback(body)).status).toBe(200);
}

it('rolls back and forward with payments, refunds and late money in place', async () => {
  const invoice = (
    await api('POST', '/v1/invoices', {
      number: 'MIG-1',
      amount_due: 5000,
      currency: 'USD',
      due_date: '2030-01-01',
    })
  ).body;
  const invoiceLink = (await api('POST', `/v1/invoices/${invoice.id}/payment_link`, {})).body;
  await sandboxPays(await pay(invoiceLink), 5000);
  await stack.untilStatus(`/v1/invoices/${invoice.id}`, 'paid');
  const [invoicePayment] = (await api('GET', `/v1/payment_links/${invoiceLink.id}/payments`)).body.data;
  const refunded = await stack.request('POST', `/v1/payments/${invoicePayment.id}/refund`, {
    json: { amount: 2000 },
  });
  expect(refunded.body.status).toBe('succeeded');

  const order = (await api('POST', '/v1/orders', { amount: 1800, currency: 'USD' })).body;
  const orderLink = (await api('POST', `/v1/orders/${order.id}/payment_link`, {})).body;
  await sandboxPays(await pay(orderLink), 1800);
  await stack.untilStatus(`/v1/orders/${order.id}`, 'paid');

  // Money for a finished link: recorded as late, it added nothing.
  const late = (await api('POST', '/v1/payment_links', { amount: 700, currency: 'USD', expires_in: 'PT2S' }))
    .body;
  const lateSession = await pay(late);
  await stack.untilStatus(`/v1/payment_links/${late.id}`, 'expired');
  await eventually(async () =>
    (await stack.temporal.workflow.getHandle(late.id).describe()).status.name === 'COMPLETED'
      ? true
      : undefined,
  );
  await sandboxPays(lateSession, 700);
  const latePayment = await eventually(async () =>
    stack.db('payments').where({ link_id: late.id }).first('id', 'flags', 'amount_collected'),
  );
  expect(latePayment).toMatchObject({ flags: ['late'], amount_collected: 0 });

  const figures = async () => ({
    invoice: await stack
      .db('invoices')
      .where({ id: invoice.id })
      .first('status', 'amount_paid', 'amount_refunded'),
    order: await stack.db('orders').where({ id: order.id }).first('status', 'amount_paid', 'amount_refunded'),
    collected: await stack
      .db('payments')
      .whereIn('link_id', [invoiceLink.id, orderLink.id, late.id])
      .orderBy('link_id')
      .select('link_id', 'amount_collected'),
    events: await stack.db('provider_events').count<{ n: string }[]>({ n: '*' }),
  });
  const before = await figures();
  expect(before.invoice).toEqual({ status: 'partially_refunded', amount_paid: 5000, amount_refunded: 2000 });
  expect(before.order).toEqual({ status: 'paid', amount_paid: 1800, amount_refunded: 0 });

  // Back to before it (and the migrations that came after it), then forward again.
  const undone: string[] = [];
  while (!undone.includes(MIGRATION)) {
    const [, names] = (await stack.db.migrate.down({ migrationSource })) as [number, string[]];
    expect(names.length).toBeGreaterThan(0);
    undone.push(...names);
  }
  expect(await stack.db('invoices').where({ id: invoice.id }).first('status')).toEqual({
    status: 'partially_paid',
  });
  const [, up] = (await stack.db.migrate.latest({ migrationSource })) as [number, string[]];
  expect(up).toEqual([...undone].reverse());
  expect(await figures()).toEqual(before);
});
