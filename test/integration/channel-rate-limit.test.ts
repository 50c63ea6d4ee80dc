/**
 * Each channel's throughput is bounded by its task queue's rate limit (the worker's own
 * `maxTaskQueueActivitiesPerSecond`, no sleeps). The links are created while no worker runs, so
 * every message is queued before the first goes out: what the endpoints then receive is shaped
 * by the rate limits alone, not by how fast a loaded machine creates links.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  // Without a worker creation answers from the link's terms, after this short wait.
  stack = await startStack({ worker: false, createWaitMs: 200, ratePerSecond: { email: 100, sms: 2 } });
});
afterAll(async () => {
  await stack?.stop();
});

const spread = (times: Date[]) => {
  const ms = times.map((t) => t.getTime()).sort((a, b) => a - b);
  return (ms.at(-1) as number) - (ms[0] as number);
};

it('sends SMS no faster than the configured rate, while email is not held back by it', async () => {
  const phones = Array.from({ length: 12 }, (_, i) => `+1415555${String(7100 + i)}`);
  const created = await Promise.all(
    phones.map((phone, i) =>
      stack.request('POST', '/v1/payment_links', {
        json: {
          amount: 100,
          currency: 'USD',
          customer: { phone, email: `rate${i}@example.com` },
          channels: ['sms', 'email'],
        },
      }),
    ),
  );
  expect(created.map((r) => r.status)).toEqual(phones.map(() => 201));
  await stack.startWorker();
  const sms = await eventually(
    async () =>
      stack.peers.twilio.messages.length >= phones.length ? stack.peers.twilio.messages : undefined,
    WAIT_MS,
    'all SMS',
  );
  const smsSpread = spread(sms.map((m) => m.receivedAt));
  const mails = await eventually(
    async () => (stack.peers.smtp.messages.length >= phones.length ? stack.peers.smtp.messages : undefined),
    WAIT_MS,
    'all email',
  );
  const mailSpread = spread(mails.map((m) => m.receivedAt));
  // 12 messages at 2 a second: a burst of one per task-queue partition (the dev server has 4),
  // then 2 a second, takes 4 s at least; a loaded machine only spreads them further.
  expect(smsSpread, 'SMS spread (ms)').toBeGreaterThanOrEqual(2000);
  // The email queue has its own, higher limit: its messages are not spaced out like the SMS.
  expect(mailSpread, `email spread (ms), against ${smsSpread} ms for SMS`).toBeLessThan(smsSpread);
});
