/**
 * One webhook sent on behalf of something that has no running workflow of its own (a payment
 * recorded for a link whose lifecycle is over), with the same retries as a link's webhooks.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import type { WebhookEvent } from '../../activities/webhooks';

const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});

/** The workflow id is derived from the event id: starting it twice sends once. */
export const webhookWorkflowId = (eventId: string): string => `webhook:${eventId}`;

export async function webhookDeliveryWorkflow(event: WebhookEvent): Promise<void> {
  await deliverWebhook(event);
}
