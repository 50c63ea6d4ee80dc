// The worker's workflow bundle entry: every workflow type the task queue serves.
export { campaignWorkflow } from './campaign/workflow';
export { paymentLinkWorkflow } from './payment-link/workflow';
export { reconcileProviderEventsWorkflow } from './reconciler/workflow';
export { webhookDeliveryWorkflow } from './webhook-delivery/workflow';
