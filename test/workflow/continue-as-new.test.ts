/**
 * A long-lived link hands over to a fresh run before its history grows large; its state,
 * including the reminders still to come, survives the hand-over.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { linkStateQuery, updateLinkUpdate } from '../../workflows/payment-link/contract';
import { FAST_SETTINGS, linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

it('continues as new with pending reminders, payments and changes carried over', async () => {
  const { id, handle, row } = await t.create(
    {
      amount: 3000,
      accept_partial: true,
      customer: { email: 'ada@example.com' },
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT1M',
      // Late enough that the hand-over happens before the first, even on a loaded machine.
      reminders: { after_created: ['PT15S', 'PT17S'] },
    },
    // Far below the production threshold, so a handful of messages triggers the hand-over.
    { ...FAST_SETTINGS, continueAsNewAfterEvents: 30 },
  );
  const firstRunId = (await handle.describe()).runId;

  await t.pay(handle, { paymentId: 'pi_before', amount: 1000 });
  for (let n = 0; n < 4; n++) {
    await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { revision: String(n) } }] });
  }

  const firstRun = stack.temporal.workflow.getHandle(id, firstRunId);
  await eventually(
    async () => ((await firstRun.describe()).status.name === 'CONTINUED_AS_NEW' ? true : undefined),
    WAIT_MS,
    'the first run to continue as new',
  );
  const current = await handle.describe();
  expect(current.runId).not.toBe(firstRunId);
  expect(current.status.name).toBe('RUNNING');
  expect((await firstRun.describe()).historyLength).toBeGreaterThanOrEqual(30); // handed over at the threshold

  // The new run knows everything the old one did.
  const state = await handle.query(linkStateQuery);
  expect(state).toMatchObject({
    status: 'partially_paid',
    amountPaid: 1000,
    terms: { metadata: { revision: '3' } },
  });
  expect(state.seenPaymentIds).toBeUndefined(); // Postgres knows which payments it has seen
  expect(Date.parse(state.nextReminderAt ?? '')).toBe(row.created_at.getTime() + 15_000);

  // Both pending reminders fire once each, from the new run.
  const reminded = await t.untilEvent(id, 'payment_link.reminded', 2);
  expect(reminded.map((e) => Date.parse(e.data.scheduled_for as string) - row.created_at.getTime())).toEqual([
    15_000, 17_000,
  ]);

  // A redelivered payment from before the hand-over is still recognised; a new one completes it.
  await t.pay(handle, { paymentId: 'pi_before', amount: 1000 });
  await t.pay(handle, { paymentId: 'pi_after', amount: 2000 });
  expect(await t.untilStatus(id, 'paid')).toMatchObject({ amount_paid: 3000, payments_count: 2 });
  expect((await t.events(id)).filter((e) => e.type === 'payment_link.reminded')).toHaveLength(2);
});
