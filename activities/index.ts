import type { createLinkActivities } from './links';
import type { createNotificationActivities } from './notifications';
import type { createWebhookActivities } from './webhooks';

/**
 * Every activity the payment-link workflow calls. The workflow imports only this type; the
 * worker wires each factory from its dependencies (src/worker/create-worker.ts).
 */
export type Activities = ReturnType<typeof createLinkActivities> &
  ReturnType<typeof createNotificationActivities> &
  ReturnType<typeof createWebhookActivities>;
