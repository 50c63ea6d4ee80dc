import type { WorkflowHandle } from '@temporalio/client';
import { createCommerceStores } from '../../src/commerce/stores';
import { CreatePaymentLinkSchema } from '../../src/links/create-link';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore, type LinkRow } from '../../src/links/link-store';
import { createLogger } from '../../src/logger';
import {
  DEFAULT_LIFECYCLE_SETTINGS,
  type LifecycleSettings,
  type PaymentReceived,
  paymentReceivedSignal,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import { CREATE_WAIT_MS, type Stack } from './stack';
import { eventually, WAIT_MS } from './temporal';

export type LinkHandle = WorkflowHandle<typeof paymentLinkWorkflow>;

export const FAST_SETTINGS: LifecycleSettings = { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1500 };

/** Test helpers over one stack: create links through the real service, pay, and read back. */
export function linkTools(stack: Stack) {
  const links = createLinkStore(stack.db);
  const account = { id: stack.account.accountId, name: 'Test shop', timezone: 'UTC' };

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

  return { account, create, pay, row, events, eventTypes, payments, untilStatus, untilEvent };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
