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
import { contactFor, EventTypes } from '../workflows/payment-link/contract';

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
/** Longer than any one attempt can run (the activity times out at 60 s, SMTP idles out at 30 s). */
export const SEND_LEASE_SECONDS = 120;

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

/**
 * Sends one message on one channel, once: an attempt claims the message for a lease and records
 * the provider's acceptance before returning; a retry that finds it recorded, or still claimed,
 * sends nothing. (Should the database fail, or the worker be killed, between the provider's
 * acceptance and that record, a retry after the lease sends again: SMTP and twilio take no
 * idempotency key. An email resent so carries the same Message-ID, see messageIdFor.) Permanent refusals
 * are recorded and thrown as a non-retryable ApplicationFailure; transient ones throw anything
 * else. Used by the `notifyCustomer` activity and by the outbox drainer (closing messages).
 */
export async function sendCustomerMessage(
  deps: NotificationActivityDeps,
  input: NotifyCustomerInput,
): Promise<NotifyOutcome> {
  const { db, links, notifications, email, sms, publicBaseUrl } = deps;
  const link = await links.findLink(input.accountId, input.linkId);
  const account = await findAccount(db, input.accountId);
  if (!link || !account)
    throw ApplicationFailure.nonRetryable(`link ${input.linkId} not found`, 'LinkMissing');
  const recipient = contactFor(link.customer, input.channel);
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
    // A multi-use link asks every payer for the full amount.
    amountDue: link.max_payments === 1 ? link.amount - link.amount_paid : link.amount,
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
            // One Message-ID per notification row: a resend after a crash is the same message.
            messageKey: row.id,
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

  // The link and its reminders go only while the link is open; closing messages are about the close.
  const claim = await notifications.claim(row, {
    needsOpenLink: OPEN_LINK_KINDS.includes(input.kind),
    leaseSeconds: SEND_LEASE_SECONDS,
  });
  if (claim === 'closed') return 'suppressed';
  if (claim === 'busy') throw new Error('an earlier attempt is still sending this message'); // retried later

  try {
    const accepted = await send();
    await notifications.markSent(row, accepted.providerMessageId, lifecycleEvent(input, row));
    return 'sent';
  } catch (err) {
    if (err instanceof PermanentDeliveryError) {
      // The opt-out first: once the message reads failed, a retry never comes to record it.
      if (err.optedOut) await notifications.optOut(row, 'provider_stop');
      await notifications.markFailed(row, err.code, err.reason);
      throw ApplicationFailure.nonRetryable(err.message, 'NotificationFailed');
    }
    await notifications.releaseAfterError(row, (err as Error).message);
    throw err; // transient: retried with backoff
  }
}

export function createNotificationActivities(deps: NotificationActivityDeps) {
  return {
    /** One message on one channel, once (sendCustomerMessage); Temporal retries transient failures. */
    notifyCustomer: (input: NotifyCustomerInput): Promise<NotifyOutcome> => sendCustomerMessage(deps, input),
  };
}
