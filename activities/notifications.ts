import type { LinkStore } from '../src/links/link-store';
import type { Channel } from '../workflows/payment-link/contract';
import { EventTypes } from '../workflows/payment-link/contract';

export interface NotificationActivityDeps {
  links: LinkStore;
}

export interface NotifyCustomerInput {
  linkId: string;
  accountId: string;
  channel: Channel;
  kind: 'link' | 'reminder';
  /** Unique per link and message, chosen by the workflow: a retry never writes twice. */
  messageKey: string;
  /** For reminders: the instant the schedule chose, after quiet hours. */
  scheduledFor?: string;
  source?: string;
}

export function createNotificationActivities({ links }: NotificationActivityDeps) {
  return {
    /**
     * Records that the link went out to the customer on one channel. Delivery over SMTP and
     * twilio (with per-message status) is the notifications issue's; the timeline entry and
     * its idempotency key are already the ones delivery will use.
     */
    async notifyCustomer(input: NotifyCustomerInput): Promise<void> {
      await links.applyChange({
        linkId: input.linkId,
        accountId: input.accountId,
        events: [
          {
            key: input.messageKey,
            type: input.kind === 'link' ? EventTypes.sent : EventTypes.reminded,
            data: {
              channel: input.channel,
              ...(input.scheduledFor ? { scheduled_for: input.scheduledFor } : {}),
              ...(input.source ? { source: input.source } : {}),
            },
          },
        ],
      });
    },
  };
}
