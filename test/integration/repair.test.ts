/**
 * "A workflow never dies of data", the repair path: a link whose row is open but whose workflow
 * ended (terminated here, as an operator or a failed workflow leaves it) is given its lifecycle
 * back by `paylinks links repair`: resumed from its row (payments so far, expiry) and still
 * payable and cancellable, or closed as expired when it is past its expiry. Repeating it changes
 * nothing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createLinkRepair } from '../../src/links/repair';
import { PROJECT_ROOT } from '../../src/paths';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../workflows/payment-link/contract';
import { linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { TEST_CODEC_KEYS_SPEC } from '../helpers/temporal';

const run = promisify(execFile);
let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const paylinks = async (...args: string[]) => {
  const { stdout } = await run('npx', ['paylinks', ...args], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      // The stack's worker decrypts with the tests' key: the CLI must encrypt with it.
      PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS_SPEC,
    },
  });
  return stdout;
};

const repair = () =>
  createLinkRepair({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    settings: { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1000 },
  });

async function brokenLink(body: Record<string, unknown>) {
  const created = await stack.request('POST', '/v1/payment_links', {
    json: { currency: 'USD', expires_in: 'P7D', ...body },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  return { id, handle: stack.temporal.workflow.getHandle(id) };
}

const workflowStatus = async (id: string) =>
  (await stack.temporal.workflow.getHandle(id).describe()).status.name;
const repairedEvents = async (id: string) =>
  (await t.events(id)).filter((e) => e.type === 'payment_link.repaired');

it('a terminated link is resumed with its payments so far and can still be paid', async () => {
  const { id, handle } = await brokenLink({ amount: 3000, accept_partial: true });
  await t.pay(handle, { paymentId: 'pi_repair_first', amount: 1000 });
  await t.untilStatus(id, 'partially_paid');
  await handle.terminate('broken on purpose');
  // Broken: the link cannot be cancelled while its row says it is open.
  expect((await stack.request('POST', `/v1/payment_links/${id}/cancel`, { json: {} })).status).toBe(409);

  const printed = JSON.parse(await paylinks('links', 'repair', id, '--json'));
  expect(printed).toEqual([{ link_id: id, action: 'resumed', workflow_status: 'TERMINATED' }]);
  expect(await workflowStatus(id)).toBe('RUNNING');

  await t.pay(stack.temporal.workflow.getHandle(id), { paymentId: 'pi_repair_second', amount: 2000 });
  const paid = await t.untilStatus(id, 'paid');
  expect(paid).toMatchObject({ amount_paid: 3000, payments_count: 2 });
  expect(await t.payments(id)).toHaveLength(2);
  const [repaired] = await repairedEvents(id);
  expect(repaired?.data).toMatchObject({
    action: 'resumed',
    previous_workflow_status: 'TERMINATED',
    amount_paid: 1000,
    payments_count: 1,
  });
});

it('a resumed link can be cancelled; repairing it again does nothing', async () => {
  const { id, handle } = await brokenLink({ amount: 1500 });
  await handle.terminate('broken on purpose');
  expect(await repair().repairOne(id)).toMatchObject({ action: 'resumed', workflowStatus: 'TERMINATED' });
  expect(await repair().repairOne(id)).toMatchObject({ action: 'running', workflowStatus: 'RUNNING' });
  expect(await paylinks('links', 'repair', id)).toContain(`${id}  running`);
  expect(await repairedEvents(id)).toHaveLength(1);

  const cancelled = await stack.request('POST', `/v1/payment_links/${id}/cancel`, { json: {} });
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.status).toBe('cancelled');
  expect(await repair().repairOne(id)).toMatchObject({ action: 'closed', status: 'cancelled' });
});

it('a broken link past its expiry is closed as expired, with the reason on its timeline', async () => {
  const { id, handle } = await brokenLink({ amount: 900 });
  await handle.terminate('broken on purpose');
  // It stayed broken until past its expiry.
  await stack
    .db('payment_links')
    .where({ id })
    .update({ expires_at: new Date(Date.now() - 60_000) });

  const printed = JSON.parse(await paylinks('links', 'repair', '--all', '--json'));
  expect(printed).toContainEqual({ link_id: id, action: 'expired', workflow_status: 'TERMINATED' });
  const expired = await t.untilStatus(id, 'expired');
  expect(expired.closed_at).not.toBeNull();
  const types = await t.eventTypes(id);
  expect(types).toContain('payment_link.expired');
  const [repaired] = await repairedEvents(id);
  expect(repaired?.data).toMatchObject({ action: 'expired', previous_workflow_status: 'TERMINATED' });
  expect(String(repaired?.data.reason)).toMatch(/past its expiry/);

  // Closed: nothing left for a repair, and --all no longer lists it.
  expect(await repair().repairOne(id)).toMatchObject({ action: 'closed', status: 'expired' });
  const again = JSON.parse(await paylinks('links', 'repair', '--all', '--json'));
  expect(again.map((r: { link_id: string }) => r.link_id)).not.toContain(id);
});

it('refuses to run without links or --all, and says which link does not exist', async () => {
  await expect(paylinks('links', 'repair')).rejects.toThrow(/name the links to repair, or pass --all/);
  await expect(paylinks('links', 'repair', 'plink_doesnotexist')).rejects.toMatchObject({
    stdout: expect.stringContaining('plink_doesnotexist  not_found  no such payment link'),
  });
});
