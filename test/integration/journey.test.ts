/**
 * The whole journey, over HTTP only: an invoice's link is emailed (real SMTP server), the
 * customer opens it, pays in the sandbox, the callback completes it; the invoice is paid, the
 * payment method saved, and the merchant's webhook receiver gets signed events.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifySignature } from '../../src/signing';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let receiverUrl: string;
let received: Awaited<ReturnType<typeof startWebhookReceiver>>['received'];

beforeAll(async () => {
  stack = await startStack();
  // The merchant's endpoint: answers 500 when told to, to exercise retries.
  receiver = await startWebhookReceiver();
  receiverUrl = receiver.url;
  received = receiver.received;
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const api = (method: string, path: string, json?: unknown) =>
  stack.request(method, path, json === undefined ? {} : { json });

it('invoice → email → page → sandbox payment → callback → paid, invoice paid, profile saved, signed webhooks', async () => {
  const endpoint = await api('PUT', '/v1/webhook_endpoint', { url: receiverUrl });
  expect(endpoint.status).toBe(200);
  const secret: string = endpoint.body.secret;
  expect(secret).toMatch(/^whsec_/);
  expect((await api('GET', '/v1/webhook_endpoint')).body).toEqual({
    object: 'webhook_endpoint',
    url: receiverUrl,
  }); // shown once
  const stored = await stack
    .db('accounts')
    .where({ id: stack.account.accountId })
    .first('webhook_secret_encrypted');
  expect(stored.webhook_secret_encrypted).not.toContain(secret);

  const customer = await api('POST', '/v1/customers', { name: 'Ada', email: 'ada.journey@example.com' });
  const invoice = await api('POST', '/v1/invoices', {
    number: `J-${Date.now()}`,
    customer_id: customer.body.id,
    amount_due: 15_000,
    currency: 'USD',
    due_date: new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10),
    metadata: { erp: 'A-17' },
  });
  const link = await api('POST', `/v1/invoices/${invoice.body.id}/payment_link`, { channels: ['email'] });
  expect(link.status).toBe(201);

  // The email arrives; the customer follows its link.
  const mail = await eventually(async () =>
    stack.peers.smtp.messages.find((m) => m.envelopeTo.includes('ada.journey@example.com')),
  );
  const url = /Pay now: (\S+)/.exec(mail.parsed.text ?? '')?.[1] as string;
  expect(url).toBe(link.body.url);
  const path = new URL(url).pathname;
  const page = await fetch(`${stack.baseUrl}${path}`);
  expect(await page.text()).toContain('$150.00');

  // Pay → hosted checkout → succeed and save the card.
  const pay = await stack.postForm(`${path}/pay`, {});
  expect(pay.status).toBe(303);
  const checkout = pay.headers.get('location') as string;
  const done = await stack.postForm(checkout, { outcome: 'succeed', save_payment_profile: 'true' });
  expect(done.status).toBe(303);

  const paid = await eventually(async () => {
    const r = await api('GET', `/v1/payment_links/${link.body.id}`);
    return r.body.status === 'paid' ? r.body : undefined;
  });
  expect(paid.amount_paid).toBe(15_000);
  expect((await api('GET', `/v1/invoices/${invoice.body.id}`)).body).toMatchObject({
    status: 'paid',
    amount_paid: 15_000,
  });
  expect((await api('GET', `/v1/payment_profiles?customer_id=${customer.body.id}`)).body.data).toHaveLength(
    1,
  );

  // The merchant's receiver gets payment.succeeded and payment_link.paid, correctly signed.
  const events = await eventually(async () => {
    const types = received.map((r) => r.event.type);
    return types.includes('payment.succeeded') && types.includes('payment_link.paid') ? received : undefined;
  });
  for (const r of events) expect(verifySignature(secret, r.raw, r.signature)).toBe('ok');
  const paidEvent = events.find((r) => r.event.type === 'payment_link.paid')?.event;
  expect(paidEvent?.data.payment_link).toMatchObject({
    id: link.body.id,
    status: 'paid',
    invoice_id: invoice.body.id,
    amount_paid: 15_000,
  });
  const deliveries = await api('GET', '/v1/webhook_deliveries');
  expect(
    deliveries.body.data.map((d: { event_type: string; response_status: number }) => [
      d.event_type,
      d.response_status,
    ]),
  ).toEqual(
    expect.arrayContaining([
      ['payment.succeeded', 200],
      ['payment_link.paid', 200],
    ]),
  );
});

it('a failing endpoint is retried with backoff; each attempt is recorded', async () => {
  await api('PUT', '/v1/webhook_endpoint', { url: receiverUrl });
  receiver.failNext(1);
  const link = await api('POST', '/v1/payment_links', { amount: 100, currency: 'USD' });
  await api('POST', `/v1/payment_links/${link.body.id}/cancel`, {});
  const eventId = `evt_${link.body.id}_status:cancelled`;
  const attempts = await eventually(
    async () => {
      const r = await api('GET', `/v1/webhook_deliveries?event_id=${encodeURIComponent(eventId)}`);
      return r.body.data.length >= 2 ? r.body.data : undefined;
    },
    WAIT_MS,
    'a retried delivery',
  );
  expect(
    attempts.map((d: { attempt: number; response_status: number }) => [d.attempt, d.response_status]).sort(),
  ).toEqual([
    [1, 500],
    [2, 200],
  ]);
  expect(received.filter((r) => r.event.id === eventId)).toHaveLength(1);
});

it('rejects a webhook URL that is not http(s), and needs a key', async () => {
  expect((await api('PUT', '/v1/webhook_endpoint', { url: 'ftp://x' })).body.error.param).toBe('url');
  expect((await stack.request('GET', '/v1/webhook_deliveries', { key: null })).status).toBe(401);
});
