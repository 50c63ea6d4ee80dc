import { ApplicationFailure } from '@temporalio/activity';
import { findAccount } from '../src/accounts/accounts';
import type { Db } from '../src/db/knex';
import type { LinkEventInput, LinkStore } from '../src/links/link-store';
import { linkUrl } from '../src/links/serialize';
import { PermanentDeliveryError } from '../src/notifications/delivery-errors';
import type { EmailSender } from '../src/notifications/email-sender';
import { type MessageType, renderMessage } from '../src/notifications/messages';
import type { NotificationRow, NotificationStore } from '../src/notifications/notification-store';
import { qrPng } from '../src/notifications/qr';
import type { SmsSender } from '../src/notifications/sms-sender';
import type { Channel } from '../workflows/payment-link/contract';
import { EventTypes, TERMINAL_STATUSES } from '../workflows/payment-link/contract';

export interface NotificationActivityDeps {
  db: Db;
  links: LinkStore;
  notifications: NotificationStore;
  email: EmailSender;
  sms: SmsSender;
  publicBaseUrl: string;
}

export interface NotifyCustomerInput {
  linkId: string;
  accountId: string;
  channel: Channel;
  kind: MessageType;
  /** Unique per link and message, chosen by the workflow: a retry finds the same row. */
  messageKey: string;
  /** For reminders: the instant the schedule chose, after quiet hours. */
  scheduledFor?: string;
  source?: string;
}

export type NotifyOutcome = 'sent' | 'suppressed' | 'already_handled' | 'no_address';

const QR_CID = 'payment-link-qr@paylinks';
const DONE: readonly string[] = ['sent', 'delivered', 'undelivered', 'failed', 'suppressed'];
const OPEN_LINK_KINDS: readonly MessageType[] = ['link', 'reminder'];
const TERMINAL: readonly string[] = TERMINAL_STATUSES;

/** The link's own timeline entry for a message the provider accepted. */
function lifecycleEvent(input: NotifyCustomerInput, row: NotificationRow): LinkEventInput[] {
  const data = {
    channel: input.channel,
    notification_id: row.id,
    ...(input.scheduledFor ? { scheduled_for: input.scheduledFor } : {}),
    ...(input.source ? { source: input.source } : {}),
  };
  if (input.kind === 'link') return [{ key: input.messageKey, type: EventTypes.sent, data }];
  if (input.kind === 'reminder') return [{ key: input.messageKey, type: EventTypes.reminded, data }];
  return [];
}

export function createNotificationActivities(deps: NotificationActivityDeps) {
  const { db, links, notifications, email, sms, publicBaseUrl } = deps;

  return {
    /**
     * Sends one message on one channel, exactly once: the provider's acceptance is recorded
     * before returning, and a retry that finds it recorded sends nothing. Permanent refusals
     * are recorded and fail without retry; transient ones are retried by Temporal.
     */
    async notifyCustomer(input: NotifyCustomerInput): Promise<NotifyOutcome> {
      const link = await links.findLink(input.accountId, input.linkId);
      const account = await findAccount(db, input.accountId);
      if (!link || !account)
        throw ApplicationFailure.nonRetryable(`link ${input.linkId} not found`, 'LinkMissing');
      const recipient = input.channel === 'email' ? link.customer?.email : link.customer?.phone;
      if (!recipient) return 'no_address';

      const row = await notifications.begin({
        accountId: input.accountId,
        linkId: input.linkId,
        messageKey: input.messageKey,
        channel: input.channel,
        type: input.kind,
        recipient,
      });
      if (DONE.includes(row.status)) return 'already_handled';
      if (await notifications.isOptedOut(input.accountId, input.channel, recipient)) {
        await notifications.markSuppressed(row, 'opted_out');
        return 'suppressed';
      }

      const url = linkUrl(publicBaseUrl, link.token);
      const unsubscribeUrl =
        input.kind === 'reminder' ? `${publicBaseUrl}/u/${row.unsubscribe_token}` : undefined;
      const message = renderMessage(input.kind, {
        merchantName: account.name,
        customerName: link.customer?.name ?? null,
        amount: link.amount,
        amountDue: link.amount - link.amount_paid,
        currency: link.currency,
        description: link.description,
        url,
        expiresAt: link.expires_at.toISOString(),
        timezone: link.timezone,
        locale: link.customer?.locale ?? 'en',
        qrCid: QR_CID,
        unsubscribeUrl,
      });

      const send = () =>
        input.channel === 'email'
          ? qrPng(url).then((qr) =>
              email.send({
                to: recipient,
                subject: message.subject,
                text: message.text,
                html: message.html,
                attachments: [{ filename: 'qr.png', content: qr, contentType: 'image/png', cid: QR_CID }],
                // RFC 8058 one-click unsubscribe, on reminders only (receipts are transactional).
                headers: unsubscribeUrl
                  ? {
                      'List-Unsubscribe': `<${unsubscribeUrl}>`,
                      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
                    }
                  : {},
              }),
            )
          : sms.send({ to: recipient, body: message.sms });

      const outcome = await notifications.whileLinkLocked(
        input.accountId,
        input.linkId,
        async (status, store) => {
          // The link and its reminders are for an open link only; closing messages are about the close.
          if (OPEN_LINK_KINDS.includes(input.kind) && status !== undefined && TERMINAL.includes(status)) {
            await store.markSuppressed(row, 'link_closed');
            return { result: 'suppressed' as const };
          }
          try {
            const accepted = await send();
            await store.markSent(row, accepted.providerMessageId, lifecycleEvent(input, row));
            return { result: 'sent' as const };
          } catch (err) {
            // Recorded before the transaction commits; thrown after, so the record survives.
            if (err instanceof PermanentDeliveryError) {
              await store.markFailed(row, err.code, err.reason);
              if (err.optedOut) await store.optOut(row, 'provider_stop');
            } else {
              await store.noteAttemptError(row, (err as Error).message);
            }
            return { error: err as Error };
          }
        },
      );
      if ('result' in outcome && outcome.result) return outcome.result;
      if (outcome.error instanceof PermanentDeliveryError) {
        throw ApplicationFailure.nonRetryable(outcome.error.message, 'NotificationFailed');
      }
      throw outcome.error; // transient: Temporal retries with backoff
    },
  };
}
