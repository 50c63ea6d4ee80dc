/**
 * `paylinks links repair`: links whose row is still open but whose workflow is no longer running
 * (it failed on data, was terminated, timed out, or never existed) are given their lifecycle
 * back. A fresh run of the link workflow starts from the row as it stands (the same id, the
 * payments so far, the expiry), through the `resumeFrom` input a continue-as-new uses: a link
 * still within its expiry carries on, one past it is closed as expired by that run, which writes
 * the row, the timeline and the webhook as any expiry does. Running it again changes nothing.
 */
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  type Channel,
  EventTypes,
  isTerminal,
  type LifecycleSettings,
  type LinkState,
  type LinkTerms,
  linkWorkflowId,
  SearchAttributes,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import type { Db } from '../db/knex';
import { insertLinkEvents, type LinkRow } from './link-store';

export type RepairAction =
  /** The workflow is running: nothing to do. */
  | 'running'
  /** Broken and still within its expiry: a fresh run carries the lifecycle on. */
  | 'resumed'
  /** Broken and past its expiry: a fresh run closed it as expired. */
  | 'expired'
  /** The row is already closed: nothing to do. */
  | 'closed'
  | 'not_found';

export interface RepairResult {
  linkId: string;
  action: RepairAction;
  /** What Temporal said about the link's workflow before the repair (NOT_FOUND: no execution). */
  workflowStatus?: string;
  status?: string;
}

export interface RepairDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  settings: LifecycleSettings;
  now?: () => Date;
}

const OPEN_STATUSES = ['active', 'partially_paid'];

export function termsFromRow(row: LinkRow): LinkTerms {
  return {
    id: row.id,
    accountId: row.account_id,
    token: row.token,
    amount: row.amount,
    currency: row.currency,
    description: row.description,
    lineItems: row.line_items,
    reference: row.reference,
    customer: row.customer,
    customerId: row.customer_id,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    maxPayments: row.max_payments,
    acceptPartial: row.accept_partial,
    minPartialAmount: row.min_partial_amount,
    channels: row.channels as Channel[],
    reminders: row.reminders,
    quietHours: row.quiet_hours,
    timezone: row.timezone,
    invoiceId: row.invoice_id,
    orderId: row.order_id,
    campaignId: row.campaign_id,
    metadata: row.metadata,
    successUrl: row.success_url,
    notifyOnExpiry: row.notify_on_expiry,
    reissuedFrom: row.reissued_from,
  };
}

/** The state a fresh run resumes from: the row's figures; reminders already due are not sent late. */
export function stateFromRow(row: LinkRow, now: Date): LinkState {
  return {
    terms: termsFromRow(row),
    status: row.status,
    amountPaid: row.amount_paid,
    paymentsCount: row.payments_count,
    reminderCursor: now.toISOString(),
    closedAt: null,
  };
}

export function createLinkRepair(deps: RepairDeps) {
  const { db, temporal, taskQueue, settings } = deps;
  const now = deps.now ?? (() => new Date());

  async function workflowStatus(linkId: string): Promise<{ status: string; runId?: string }> {
    try {
      const described = await temporal.workflow.getHandle(linkWorkflowId(linkId)).describe();
      return { status: described.status.name, runId: described.runId };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { status: 'NOT_FOUND' };
      throw err;
    }
  }

  async function repairOne(linkId: string): Promise<RepairResult> {
    const row: LinkRow | undefined = await db('payment_links').where({ id: linkId }).first();
    if (!row) return { linkId, action: 'not_found' };
    if (isTerminal(row.status)) return { linkId, action: 'closed', status: row.status };
    const before = await workflowStatus(linkId);
    if (before.status === 'RUNNING') {
      return { linkId, action: 'running', workflowStatus: before.status, status: row.status };
    }
    const at = now();
    const action: RepairAction = at >= row.expires_at ? 'expired' : 'resumed';
    const state = stateFromRow(row, at);
    let runId: string;
    try {
      const started = await temporal.workflow.start<typeof paymentLinkWorkflow>('paymentLinkWorkflow', {
        workflowId: linkWorkflowId(linkId),
        taskQueue,
        args: [{ terms: state.terms, settings, resumeFrom: state }],
        // The ended run stays in history beside the new one; a running one is never replaced.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: SearchAttributes.LinkStatus, value: row.status },
          { key: SearchAttributes.AccountId, value: row.account_id },
          ...(row.customer_id ? [{ key: SearchAttributes.CustomerId, value: row.customer_id }] : []),
          ...(row.invoice_id ? [{ key: SearchAttributes.InvoiceId, value: row.invoice_id }] : []),
          ...(row.campaign_id ? [{ key: SearchAttributes.CampaignId, value: row.campaign_id }] : []),
        ],
      });
      runId = started.firstExecutionRunId;
    } catch (err) {
      // Another repair (or operator) got there first: the link is running again.
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        return { linkId, action: 'running', workflowStatus: 'RUNNING', status: row.status };
      throw err;
    }
    await insertLinkEvents(db, row.account_id, linkId, [
      {
        key: `repaired:${runId}`,
        type: EventTypes.linkRepaired,
        data: {
          action,
          reason:
            action === 'expired'
              ? `its workflow was ${before.status} and the link is past its expiry: closed as expired`
              : `its workflow was ${before.status}: the lifecycle resumed from the stored link`,
          previous_workflow_status: before.status,
          ...(before.runId ? { previous_run_id: before.runId } : {}),
          amount_paid: row.amount_paid,
          payments_count: row.payments_count,
        },
      },
    ]);
    return { linkId, action, workflowStatus: before.status, status: row.status };
  }

  return {
    repairOne,
    /** Every open link (all accounts), oldest first. */
    async repairAll(): Promise<RepairResult[]> {
      const results: RepairResult[] = [];
      let after = '';
      for (;;) {
        const page: { id: string }[] = await db('payment_links')
          .whereIn('status', OPEN_STATUSES)
          .where('id', '>', after)
          .orderBy('id')
          .limit(500)
          .select('id');
        for (const { id } of page) results.push(await repairOne(id));
        if (page.length < 500) return results;
        after = (page.at(-1) as { id: string }).id;
      }
    },
  };
}
