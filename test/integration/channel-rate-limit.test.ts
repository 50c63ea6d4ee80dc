/**
 * Each channel's throughput is bounded by its task queue's rate limit (the worker's own
 * `maxTaskQueueActivitiesPerSecond`, no sleeps). Asserted as a lower bound on the spread of
 * what the SMS endpoint received: a slow machine only spreads it further, so it cannot flake.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ ratePerSecond: { email: 100, sms: 2 } });
});
afterAll(async () => {
  await stack?.stop();
});

it('sends SMS no faster than the configured rate, while email is not held back by it', async () => {
  const phones = Array.from({ length: 7 }, (_, i) => `+1415555${String(7100 + i)}`);
  await Promise.all(
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
  const sms = await eventually(
    async () =>
      stack.peers.twilio.messages.length >= phones.length ? stack.peers.twilio.messages : undefined,
    30_000,
    'all SMS',
  );
  const times = sms.map((m) => m.receivedAt.getTime()).sort((a, b) => a - b);
  const spreadMs = (times.at(-1) as number) - (times[0] as number);
  // 7 messages at 2 a second cannot all go out in less than ~3 s (allowing a burst of 2).
  expect(spreadMs).toBeGreaterThanOrEqual(2000);

  const mails = await eventually(
    async () => (stack.peers.smtp.messages.length >= phones.length ? stack.peers.smtp.messages : undefined),
    30_000,
    'all email',
  );
  const mailTimes = mails.map((m) => m.receivedAt.getTime()).sort((a, b) => a - b);
  // The email queue has its own, higher limit: its messages are not spaced out like the SMS.
  expect((mailTimes.at(-1) as number) - (mailTimes[0] as number)).toBeLessThan(spreadMs);
});
