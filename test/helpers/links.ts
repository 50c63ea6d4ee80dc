import { WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import { DateTime } from 'luxon';
import { createCommerceStores } from '../../src/commerce/stores';
import { newId, newLinkToken } from '../../src/ids';
import { CreatePaymentLinkSchema, toLinkTerms } from '../../src/links/create-link';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore, type LinkRow } from '../../src/links/link-store';
import { createLogger } from '../../src/logger';
import {
  DEFAULT_LIFECYCLE_SETTINGS,
  type LifecycleSettings,
  type LinkTerms,
  linkCreatedUpdate,
  linkWorkflowId,
  type PaymentReceived,
  paymentReceivedSignal,
  type ReminderPlan,
  SearchAttributes,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import { TEST_ACCOUNT_ZONE } from './clock';
import { CREATE_WAIT_MS, type Stack } from './stack';
import { eventually, WAIT_MS } from './temporal';

export type LinkHandle = WorkflowHandle<typeof paymentLinkWorkflow>;

export const FAST_SETTINGS: LifecycleSettings = { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1500 };

/** Test helpers over one stack: create links through the real service, pay, and read back. */
export function linkTools(stack: Stack) {
  const links = createLinkStore(stack.db);
  const account = { id: stack.account.accountId, name: 'Test shop', timezone: TEST_ACCOUNT_ZONE };

  async function create(body: Record<string, unknown>, settings: LifecycleSettings = FAST_SETTINGS) {
    const service = createLinkService({
      temporal: stack.temporal,
      links,
      taskQueue: stack.taskQueue,
      settings,
      createWaitMs: CREATE_WAIT_MS,
      logger: createLogger('silent'),
      commerce: createCommerceStores(stack.db),
    });
    const row = await service.create(account, CreatePaymentLinkSchema.parse({ currency: 'USD', ...body }));
    return { id: row.id, row, handle: stack.temporal.workflow.getHandle<typeof paymentLinkWorkflow>(row.id) };
  }

  /**
   * Starts a link's workflow straight through Temporal, with the input a test chooses; resolves
   * once the row is stored. Without `reminderPlan` it is the start of an API from before
   * `precomputed-instants` (terms and settings only). `taskQueue`: another worker's.
   */
  async function startLink(
    body: Record<string, unknown>,
    options: {
      settings?: LifecycleSettings;
      taskQueue?: string;
      reminderPlan?: (terms: LinkTerms) => ReminderPlan;
    } = {},
  ) {
    const { settings = FAST_SETTINGS, taskQueue = stack.taskQueue } = options;
    const terms = toLinkTerms(CreatePaymentLinkSchema.parse({ currency: 'USD', ...body }), {
      id: newId('plink'),
      token: newLinkToken(),
      accountId: account.id,
      accountTimezone: account.timezone,
      now: DateTime.utc(),
    });
    await stack.temporal.workflow.executeUpdateWithStart(linkCreatedUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation<typeof paymentLinkWorkflow>(
        'paymentLinkWorkflow',
        {
          workflowId: linkWorkflowId(terms.id),
          taskQueue,
          args: [
            {
              terms,
              settings,
              ...(options.reminderPlan ? { reminderPlan: options.reminderPlan(terms) } : {}),
            },
          ],
          workflowIdConflictPolicy: 'FAIL',
          typedSearchAttributes: [
            { key: SearchAttributes.LinkStatus, value: 'active' },
            { key: SearchAttributes.AccountId, value: terms.accountId },
          ],
        },
      ),
    });
    return {
      id: terms.id,
      terms,
      handle: stack.temporal.workflow.getHandle<typeof paymentLinkWorkflow>(terms.id),
    };
  }

  const pay = (
    handle: LinkHandle,
    payment: Partial<PaymentReceived> & { paymentId: string; amount: number },
  ) => handle.signal(paymentReceivedSignal, { provider: 'sandbox', currency: 'USD', ...payment });

  const row = async (id: string) => (await links.findLink(account.id, id)) as LinkRow;
  const events = (id: string) => links.listEvents(account.id, id);
  /** The link's lifecycle timeline, without the per-message delivery entries (`notification.*`). */
  const eventTypes = async (id: string) =>
    (await events(id)).map((e) => e.type).filter((type) => !type.startsWith('notification.'));
  const payments = (id: string) => links.listPayments(account.id, id);

  const untilStatus = (id: string, status: string, timeoutMs = WAIT_MS) =>
    eventually(
      async () => {
        const r = await row(id);
        return r?.status === status ? r : undefined;
      },
      timeoutMs,
      `link ${id} to be ${status}`,
    );

  const untilEvent = (id: string, type: string, count = 1, timeoutMs = WAIT_MS) =>
    eventually(
      async () => {
        const matching = (await events(id)).filter((e) => e.type === type);
        return matching.length >= count ? matching : undefined;
      },
      timeoutMs,
      `${count} ${type} event(s) on ${id}`,
    );

  /** The link's workflow has ended: nothing can happen to the link any more. */
  const untilFinished = (handle: LinkHandle) =>
    eventually(
      async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined),
      WAIT_MS,
      `workflow ${handle.workflowId} to complete`,
    );

  /**
   * After the workflow has ended: waits until every message it scheduled (or enqueued in the
   * outbox) has either run to a final status or was cancelled before a worker started it. From then on no message of the
   * link can start (a send cancelled while running is not waited for by the workflow).
   */
  async function untilMessagesSettled(handle: LinkHandle) {
    await untilFinished(handle);
    const history = (await handle.fetchHistory()).events ?? [];
    const sends = new Set(
      history
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'notifyCustomer')
        .map((e) => String(e.eventId)),
    );
    const neverStarted = history.filter((e) => {
      const cancelled = e.activityTaskCanceledEventAttributes;
      return cancelled && sends.has(String(cancelled.scheduledEventId)) && !Number(cancelled.startedEventId);
    }).length;
    // Closing messages (receipt, cancelled, expired) are the outbox's on `outbox-deliveries` runs.
    const closing = await eventually(
      async () => {
        const rows = await stack.db('outbox').where({ link_id: handle.workflowId, kind: 'message' });
        return rows.every((r) => r.delivered_at !== null || r.given_up_at !== null) ? rows : undefined;
      },
      WAIT_MS,
      `the closing messages of ${handle.workflowId} to be delivered or given up`,
    );
    const ran = sends.size - neverStarted + closing.length;
    return eventually(
      async () => {
        const rows = await stack.db('notifications').where({ link_id: handle.workflowId });
        const final = rows.filter((r) => !['pending', 'sending'].includes(r.status));
        return final.length >= ran ? rows : undefined;
      },
      WAIT_MS,
      `${ran} message(s) of ${handle.workflowId} to reach a final status`,
    );
  }

  return {
    account,
    create,
    startLink,
    pay,
    row,
    events,
    eventTypes,
    payments,
    untilStatus,
    untilEvent,
    untilFinished,
    untilMessagesSettled,
  };
}

/** Resolves at `instant` (epoch ms): to act after a moment has passed, never to await an outcome. */
export const until = (instant: number) =>
  new Promise((r) => setTimeout(r, Math.max(0, instant - Date.now())));
