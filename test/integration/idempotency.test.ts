/**
 * `Idempotency-Key` on every request that creates something, over HTTP on the real stack: the
 * same key and body replay the same answer and make one resource, another body is a 409, the
 * same key on another endpoint is a request of its own, and a retry after a crash half-way
 * makes the resource the first attempt started, not a second one.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSecret } from '../../src/webhooks/secret-box';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, TEST_SECRETS_KEY } from '../helpers/temporal';

let stack: Stack;
/** Where the account's webhooks go: a receiver that takes them, so none is retried for long. */
let receiver: Server;
let hookBase: string;
beforeAll(async () => {
  stack = await startStack();
  receiver = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((ready) => receiver.listen(0, '127.0.0.1', ready));
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

interface Answer {
  status: number;
  body: any;
  replayed: boolean;
}

/** A keyed request, with the replay header the stack's helper does not return. */
async function send(method: string, path: string, json: unknown, key: string): Promise<Answer> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.account.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(json),
  });
  return {
    status: res.status,
    body: await res.json(),
    replayed: res.headers.get('idempotent-replayed') === 'true',
  };
}

const newKey = () => `key-${randomUUID()}`;
const count = async (table: string, where: Record<string, unknown>) =>
  Number((await stack.db(table).where(where).count<{ count: string }[]>('* as count'))[0]?.count);
const forgetAnswer = (key: string) =>
  stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });

const invoice = async () =>
  (
    await stack.request('POST', '/v1/invoices', {
      json: { number: `INV-${randomUUID()}`, amount_due: 4200, currency: 'EUR', due_date: '2030-01-15' },
    })
  ).body;
const orderId = async (): Promise<string> =>
  (await stack.request('POST', '/v1/orders', { json: { amount: 1500, currency: 'EUR' } })).body.id;
const cancelledLink = async () => {
  const { body: link } = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 900, currency: 'USD' },
  });
  await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} });
  return link;
};

interface Endpoint {
  name: string;
  method?: string;
  /** The endpoint's path and a body, and how many resources it made (must be 1). */
  prepare(): Promise<{
    path: string;
    body: unknown;
    other: unknown;
    made: (answer: Answer) => Promise<number>;
  }>;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /v1/customers',
    prepare: async () => {
      const email = `${randomUUID()}@example.com`;
      return {
        path: '/v1/customers',
        body: { email },
        other: { email: `other-${email}` },
        made: () => count('customers', { email }),
      };
    },
  },
  {
    name: 'POST /v1/invoices',
    prepare: async () => {
      const number = `INV-${randomUUID()}`;
      return {
        path: '/v1/invoices',
        body: { number, amount_due: 1000, currency: 'EUR', due_date: '2030-01-01' },
        other: { number, amount_due: 2000, currency: 'EUR', due_date: '2030-01-01' },
        made: () => count('invoices', { number }),
      };
    },
  },
  {
    name: 'POST /v1/orders',
    prepare: async () => {
      const description = `order ${randomUUID()}`;
      return {
        path: '/v1/orders',
        body: { amount: 700, currency: 'USD', description },
        other: { amount: 800, currency: 'USD', description },
        made: () => count('orders', { description }),
      };
    },
  },
  {
    name: 'POST /v1/payment_links',
    prepare: async () => {
      const description = `link ${randomUUID()}`;
      return {
        path: '/v1/payment_links',
        body: { amount: 700, currency: 'USD', description },
        other: { amount: 701, currency: 'USD', description },
        made: () => count('payment_links', { description }),
      };
    },
  },
  {
    name: 'POST /v1/invoices/:id/payment_link',
    prepare: async () => {
      const { id } = await invoice();
      return {
        path: `/v1/invoices/${id}/payment_link`,
        body: {},
        other: { channels: [] },
        made: () => count('payment_links', { invoice_id: id }),
      };
    },
  },
  {
    name: 'POST /v1/orders/:id/payment_link',
    prepare: async () => {
      const id = await orderId();
      return {
        path: `/v1/orders/${id}/payment_link`,
        body: {},
        other: { channels: [] },
        made: () => count('payment_links', { order_id: id }),
      };
    },
  },
  {
    name: 'POST /v1/payment_links/:id/reissue',
    prepare: async () => {
      const { id } = await cancelledLink();
      return {
        path: `/v1/payment_links/${id}/reissue`,
        body: {},
        other: { expires_in: 'P2D' },
        made: () => count('payment_links', { reissued_from: id }),
      };
    },
  },
  {
    name: 'PUT /v1/webhook_endpoint',
    method: 'PUT',
    prepare: async () => ({
      path: '/v1/webhook_endpoint',
      body: { url: `${hookBase}/${randomUUID()}` },
      other: { url: `${hookBase}/${randomUUID()}` },
      // One secret: the account's endpoint holds the very secret the answers carried.
      made: async (answer) => {
        const row = await stack.db('accounts').where({ id: stack.account.accountId }).first();
        return openSecret(TEST_SECRETS_KEY, row.webhook_secret_encrypted) === answer.body.secret ? 1 : 2;
      },
    }),
  },
];

describe('Idempotency-Key on every request that creates something', () => {
  it.each(ENDPOINTS)(
    '$name: same key and body replay the answer; another body is a 409',
    async (endpoint) => {
      const { path, body, other, made } = await endpoint.prepare();
      const method = endpoint.method ?? 'POST';
      const key = newKey();
      const first = await send(method, path, body, key);
      expect(first.status, JSON.stringify(first.body)).toBeLessThan(300);
      expect(first.replayed).toBe(false);
      const again = await send(method, path, body, key);
      expect(again).toEqual({ ...first, replayed: true });
      const reused = await send(method, path, other, key);
      expect(reused.status).toBe(409);
      expect(reused.body.error).toMatchObject({
        type: 'conflict_error',
        code: 'idempotency_key_reused',
        param: 'Idempotency-Key',
      });
      expect(await made(again)).toBe(1);
    },
  );

  it('POST /v1/payment_links/:id/notify: a replay sends nothing again', async () => {
    const { body: link } = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 500, currency: 'USD', customer: { email: 'notify@example.com' } },
    });
    const path = `/v1/payment_links/${link.id}/notify`;
    const key = newKey();
    const first = await send('POST', path, { channel: 'email' }, key);
    expect(first.status).toBe(200);
    expect(await send('POST', path, { channel: 'email' }, key)).toEqual({ ...first, replayed: true });
    // As if the first attempt had died after Temporal took the resend: the retry is the same update.
    await forgetAnswer(key);
    expect((await send('POST', path, { channel: 'email' }, key)).status).toBe(200);
    expect((await send('POST', path, { channel: 'sms' }, key)).body.error.code).toBe(
      'idempotency_key_reused',
    );
    // A later resend is applied after any earlier one: once it is sent, every duplicate would be too.
    expect((await send('POST', path, { channel: 'email' }, newKey())).status).toBe(200);
    // Each resend's send is scheduled before its update answers: none pending means all are done.
    const sendsPending = async () =>
      ((await stack.temporal.workflow.getHandle(link.id).describe()).raw.pendingActivities ?? []).filter(
        (a) => a.activityType?.name !== 'deliverWebhook',
      ).length;
    await eventually(
      async () =>
        (await count('notifications', { link_id: link.id })) >= 2 && (await sendsPending()) === 0
          ? true
          : undefined,
      30_000,
      'the resends to be sent',
    );
    expect(await count('notifications', { link_id: link.id })).toBe(2);
  });

  it('the stored answer of the webhook endpoint does not hold its secret in clear', async () => {
    const key = newKey();
    const answer = await send('PUT', '/v1/webhook_endpoint', { url: `${hookBase}/hook` }, key);
    const row = await stack.db('idempotency_keys').where({ key }).first();
    expect(JSON.stringify(row.response_body)).not.toContain(answer.body.secret);
  });

  it('the same key on another endpoint is a request of its own, not a replay', async () => {
    const key = newKey();
    const customer = await send('POST', '/v1/customers', { name: 'Ada' }, key);
    const order = await send('POST', '/v1/orders', { amount: 300, currency: 'USD' }, key);
    expect(customer).toMatchObject({ status: 201, replayed: false, body: { object: 'customer' } });
    expect(order).toMatchObject({ status: 201, replayed: false, body: { object: 'order' } });
    // And on another document: the key names one request to one path.
    const [a, b] = [await orderId(), await orderId()];
    const linkA = await send('POST', `/v1/orders/${a}/payment_link`, {}, key);
    const linkB = await send('POST', `/v1/orders/${b}/payment_link`, {}, key);
    expect([linkA.body.order_id, linkB.body.order_id]).toEqual([a, b]);
    expect(linkB.replayed).toBe(false);
  });

  it('a concurrent retry makes no second resource: it waits its turn or replays', async () => {
    const key = newKey();
    const email = `${randomUUID()}@example.com`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => send('POST', '/v1/customers', { email }, key)),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const a of created) expect(a.body).toEqual(created[0]?.body);
    for (const a of answers.filter((x) => x.status !== 201))
      expect(a.body.error).toMatchObject({ code: 'idempotency_key_in_use', param: 'Idempotency-Key' });
    expect(await count('customers', { email })).toBe(1);
  });
});

describe('a retry after a crash half-way makes the same resource', () => {
  it.each([
    { path: '/v1/customers', table: 'customers', unique: { email: `${randomUUID()}@example.com` }, rest: {} },
    {
      path: '/v1/invoices',
      table: 'invoices',
      unique: { number: `C-${randomUUID()}` },
      rest: { amount_due: 100, currency: 'USD', due_date: '2030-01-01' },
    },
    {
      path: '/v1/orders',
      table: 'orders',
      unique: { description: randomUUID() },
      rest: { amount: 100, currency: 'USD' },
    },
  ])('$path', async ({ path, table, unique, rest }) => {
    const key = newKey();
    const body = { ...unique, ...rest };
    const first = await send('POST', path, body, key);
    expect(first.status).toBe(201);
    await forgetAnswer(key);
    const retry = await send('POST', path, body, key);
    expect(retry).toEqual(first);
    expect(await count(table, unique)).toBe(1);
  });

  it('a link for an order: the open link found is the retry’s own, not a conflict', async () => {
    const id = await orderId();
    const key = newKey();
    const first = await send('POST', `/v1/orders/${id}/payment_link`, {}, key);
    expect(first.status).toBe(201);
    await forgetAnswer(key);
    const retry = await send('POST', `/v1/orders/${id}/payment_link`, {}, key);
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(await count('payment_links', { order_id: id })).toBe(1);
  });

  it('a reissue', async () => {
    const { id } = await cancelledLink();
    const key = newKey();
    const first = await send('POST', `/v1/payment_links/${id}/reissue`, {}, key);
    await forgetAnswer(key);
    const retry = await send('POST', `/v1/payment_links/${id}/reissue`, {}, key);
    expect(retry.body.id).toBe(first.body.id);
    expect(await count('payment_links', { reissued_from: id })).toBe(1);
  });
});
