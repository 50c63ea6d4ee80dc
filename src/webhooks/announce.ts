/**
 * Merchant webhooks sent by the API itself (late payments, refunds): events of a link whose
 * workflow may be long over, delivered by a one-shot webhook-delivery workflow.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { WebhookEvent } from '../../activities/webhooks';
import type { LinkSnapshot } from '../../workflows/payment-link/webhook-event';
import { webhookWorkflowId } from '../../workflows/webhook-delivery/workflow';
import type { LinkRow } from '../links/link-store';

/** The link as its row shows it, in the shape every webhook carries. */
export const snapshotOfRow = (link: LinkRow): LinkSnapshot => ({
  id: link.id,
  accountId: link.account_id,
  status: link.status,
  amount: link.amount,
  amountPaid: link.amount_paid,
  currency: link.currency,
  reference: link.reference,
  metadata: link.metadata,
  invoiceId: link.invoice_id,
  orderId: link.order_id,
  customerId: link.customer_id,
});

/** Starts the event's delivery once, whichever retry of the request gets here first. */
export async function announceWebhook(
  temporal: Client,
  taskQueue: string,
  event: WebhookEvent,
): Promise<void> {
  await temporal.workflow
    .start('webhookDeliveryWorkflow', {
      workflowId: webhookWorkflowId(event.id),
      taskQueue,
      args: [event],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    })
    .catch((err: unknown) => {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    });
}
