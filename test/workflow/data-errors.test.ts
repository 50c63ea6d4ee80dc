/**
 * A data error never kills a link: what Postgres refuses to store is put on the link's timeline
 * as `link.error`, the payment it was applying is kept, and the lifecycle carries on.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cancelUpdate, FailureTypes, updateLinkUpdate } from '../../workflows/payment-link/contract';
import { linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

it('a payment Postgres cannot store is kept by the link and shown to an operator', async () => {
  const { id, handle } = await t.create({ amount: 3000, accept_partial: true });
  // A NUL byte: Postgres text refuses it (22021), whatever the provider meant.
  await t.pay(handle, { paymentId: 'pi_bad\u0000id', amount: 1000 });
  const [error] = await t.untilEvent(id, 'link.error');
  expect(error?.data).toMatchObject({
    during: 'payment.succeeded',
    payment_id: 'pi_bad\ufffdid',
    amount: 1000,
    message: expect.stringMatching(/22021/),
  });
  expect(await t.row(id)).toMatchObject({ status: 'partially_paid', amount_paid: 1000 });

  // The lifecycle goes on: the rest is paid and the link closes with both amounts counted.
  await t.pay(handle, { paymentId: 'pi_rest', amount: 2000 });
  expect(await t.untilStatus(id, 'paid')).toMatchObject({ amount_paid: 3000, payments_count: 2 });
  expect((await handle.describe()).status.name).not.toBe('FAILED');
});

it('a change Postgres cannot store is refused, recorded, and leaves the link working', async () => {
  const { id, handle } = await t.create({ amount: 1500 });
  // A lone UTF-16 surrogate: jsonb refuses it (22P05).
  const refused = await handle
    .executeUpdate(updateLinkUpdate, { args: [{ metadata: { '\ud800': 'x' } }] })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (refused as WorkflowUpdateFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe(FailureTypes.InvalidChange);
  const [error] = await t.untilEvent(id, 'link.error');
  expect(error?.data).toMatchObject({ during: 'payment_link.updated' });

  // Neither the row nor the workflow's terms took the change; the merchant can still act.
  expect((await t.row(id)).metadata).toEqual({});
  await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { order: '42' } }] });
  await handle.executeUpdate(cancelUpdate, { args: [{}] });
  expect(await t.untilStatus(id, 'cancelled')).toMatchObject({ metadata: { order: '42' } });
});
