/**
 * Webhook egress is checked where it happens: a host name that was public when registered and
 * resolves to loopback by delivery time (DNS rebinding) is refused at connect time, with no
 * connection made, and the attempt is recorded with its error class.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ResolveHost } from '../../src/webhooks/egress';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

/** A DNS that answers differently to the API (registration) and the worker (delivery). */
const answering =
  (address: string): ResolveHost =>
  async () => [{ address, family: 4 }];

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  stack = await startStack({
    webhookEgress: {
      registration: { allowPrivate: false, resolve: answering('93.184.216.34') },
      delivery: { allowPrivate: false, resolve: answering('127.0.0.1') },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

it('registration still refuses a loopback URL', async () => {
  const r = await stack.request('PUT', '/v1/webhook_endpoint', { json: { url: receiver.url } });
  expect(r.status).toBe(400);
  expect(r.body.error).toMatchObject({ param: 'url', message: expect.stringMatching(/loopback/) });
});

it('a name that resolves to loopback only at delivery is refused without connecting', async () => {
  const url = `http://hooks.merchant.test:${receiver.port}/hooks`;
  expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url } })).status).toBe(200);
  const { body: link } = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 100, currency: 'USD' },
  });
  expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(200);
  const eventId = `evt_${link.id}_status:cancelled`;
  const [first] = await eventually(
    async () => {
      const r = await stack.request('GET', `/v1/webhook_deliveries?event_id=${encodeURIComponent(eventId)}`);
      return r.body.data.length > 0 ? r.body.data : undefined;
    },
    WAIT_MS,
    'the refused delivery attempt',
  );
  expect(first).toMatchObject({
    url,
    attempt: 1,
    response_status: null,
    error: 'refused_address',
    duration_ms: expect.any(Number),
  });
  expect(receiver.connections()).toBe(0);
  expect(receiver.received).toHaveLength(0);
});

it('a refused address is not retried: one attempt is recorded and the link workflow finishes', async () => {
  const url = `http://rebound.merchant.test:${receiver.port}/hooks`;
  expect((await stack.request('PUT', '/v1/webhook_endpoint', { json: { url } })).status).toBe(200);
  const { body: link } = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 100, currency: 'USD' },
  });
  expect((await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { json: {} })).status).toBe(200);
  // The webhook is the outbox's, not the workflow's: the link's workflow ends at once.
  const handle = stack.temporal.workflow.getHandle(link.id);
  await eventually(
    async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined),
    WAIT_MS,
    'the link workflow to finish',
  );
  // Given up on its first attempt: no retry would be let through.
  const row = await eventually(
    async () => {
      const r = await stack.db('outbox').where({ link_id: link.id, kind: 'webhook' }).first();
      return r?.given_up_at ? r : undefined;
    },
    WAIT_MS,
    'the refused webhook to be given up',
  );
  expect(row).toMatchObject({ attempts: 1, outcome: 'refused_address', delivered_at: null });
  const eventId = `evt_${link.id}_status:cancelled`;
  const attempts = await stack.request(
    'GET',
    `/v1/webhook_deliveries?event_id=${encodeURIComponent(eventId)}`,
  );
  expect(attempts.body.data).toMatchObject([{ url, attempt: 1, error: 'refused_address' }]);
  expect(receiver.connections()).toBe(0);
});
