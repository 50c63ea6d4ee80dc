/**
 * Amounts have the ceiling a processor accepts (10^12 minor units) on every way in, over HTTP;
 * amounts at the ceiling are stored in bigint columns and come back as the same numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AMOUNT } from '../../src/money/amount';
import { type Stack, startStack } from '../helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const post = (path: string, json: unknown) => stack.request('POST', path, { json });
const refused = (r: { status: number; body: any }, param: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
};
const invoice = (amountDue: number) =>
  post('/v1/invoices', {
    number: `MAX-${amountDue}-${Date.now()}-${Math.random()}`,
    amount_due: amountDue,
    currency: 'USD',
    due_date: '2030-01-01',
  });

describe('the amount ceiling', () => {
  it('a link of 10^12 minor units is accepted and read back as that number; one more is refused', async () => {
    const ok = await post('/v1/payment_links', { amount: MAX_AMOUNT, currency: 'USD' });
    expect(ok.status).toBe(201);
    const read = await stack.request('GET', `/v1/payment_links/${ok.body.id}`);
    expect(read.body.amount).toBe(1_000_000_000_000);
    const row = await stack.db('payment_links').where({ id: ok.body.id }).first('amount');
    expect(row.amount).toBe(1_000_000_000_000);
    const types = await stack.db.raw(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE (table_name, column_name) IN (('payment_links','amount'), ('payment_links','amount_paid'),
              ('invoices','amount_due'), ('invoices','amount_paid'), ('orders','amount'),
              ('payments','amount'), ('payment_sessions','amount'))`,
    );
    expect(types.rows).toHaveLength(7);
    for (const column of types.rows) expect(column.data_type, column.column_name).toBe('bigint');

    const over = await post('/v1/payment_links', { amount: MAX_AMOUNT + 1, currency: 'USD' });
    refused(over, 'amount');
    expect(over.body.error.message).toContain('1000000000000');
  });

  it('line items: each unit amount and each quantity × unit amount, computed exactly', async () => {
    const atCeiling = await post('/v1/payment_links', {
      amount: MAX_AMOUNT,
      currency: 'USD',
      line_items: [{ name: 'Bulk', quantity: 4, unit_amount: 250_000_000_000 }],
    });
    expect(atCeiling.status).toBe(201);
    expect(atCeiling.body.line_items).toEqual([{ name: 'Bulk', quantity: 4, unit_amount: 250_000_000_000 }]);

    refused(
      await post('/v1/payment_links', {
        amount: 100,
        currency: 'USD',
        line_items: [{ name: 'Gold', quantity: 1, unit_amount: MAX_AMOUNT + 1 }],
      }),
      'line_items.0.unit_amount',
    );
    const overTotal = await post('/v1/payment_links', {
      amount: MAX_AMOUNT,
      currency: 'USD',
      line_items: [
        { name: 'Fine', quantity: 1, unit_amount: 1 },
        { name: 'Too many', quantity: 2, unit_amount: 500_000_000_001 },
      ],
    });
    refused(overTotal, 'line_items.1');
    // A product a double would round: 2^53 - 1 units of 10^12 is nowhere near the amount.
    refused(
      await post('/v1/payment_links', {
        amount: MAX_AMOUNT,
        currency: 'USD',
        line_items: [{ name: 'Huge', quantity: Number.MAX_SAFE_INTEGER, unit_amount: MAX_AMOUNT }],
      }),
      'line_items.0',
    );
  });

  it('invoices and orders: 10^12 accepted and read back, one more refused; their links too', async () => {
    const inv = await invoice(MAX_AMOUNT);
    expect(inv.status).toBe(201);
    expect((await stack.request('GET', `/v1/invoices/${inv.body.id}`)).body.amount_due).toBe(MAX_AMOUNT);
    const invLink = await post(`/v1/invoices/${inv.body.id}/payment_link`, {});
    expect(invLink.status).toBe(201);
    expect(invLink.body.amount).toBe(MAX_AMOUNT);
    refused(await invoice(MAX_AMOUNT + 1), 'amount_due');

    const order = await post('/v1/orders', { amount: MAX_AMOUNT, currency: 'JPY' });
    expect(order.status).toBe(201);
    expect((await stack.request('GET', `/v1/orders/${order.body.id}`)).body.amount).toBe(MAX_AMOUNT);
    expect((await post(`/v1/orders/${order.body.id}/payment_link`, {})).body.amount).toBe(MAX_AMOUNT);
    refused(await post('/v1/orders', { amount: MAX_AMOUNT + 1, currency: 'JPY' }), 'amount');
  });
});
