/**
 * One row per message on one channel, with its delivery status; every change also lands on the
 * link's timeline as a `notification.*` event, in the same transaction.
 */
import { randomBytes } from 'node:crypto';
import type { Channel, EventType } from '../../workflows/payment-link/contract';
import { EventTypes, TERMINAL_STATUSES } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { newId } from '../ids';
import { insertLinkEvents, type LinkEventInput } from '../links/link-store';
import type { MessageType } from './messages';

export type NotificationStatus =
  | 'pending'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'suppressed';

export interface NotificationRow {
  id: string;
  account_id: string;
  link_id: string;
  message_key: string;
  channel: Channel;
  message_type: MessageType;
  recipient: string;
  status: NotificationStatus;
  provider_message_id: string | null;
  provider_status: string | null;
  error_code: string | null;
  error_reason: string | null;
  attempts: number;
  unsubscribe_token: string;
  created_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
}

/** Mailbox names are case-insensitive in practice: Ada@X.com and ada@x.com opt out together. */
const optOutKey = (channel: Channel, address: string) =>
  channel === 'email' ? address.toLowerCase() : address;

/** Twilio's message statuses, as our notification statuses. */
const PROVIDER_STATUSES: Record<string, { status: NotificationStatus; event: EventType } | undefined> = {
  delivered: { status: 'delivered', event: EventTypes.notificationDelivered },
  undelivered: { status: 'undelivered', event: EventTypes.notificationUndelivered },
  failed: { status: 'failed', event: EventTypes.notificationFailed },
};

/** What can be done to notifications inside one transaction (or outside any). */
function notificationOps(db: Db) {
  async function transition(
    row: NotificationRow,
    columns: Record<string, unknown>,
    events: LinkEventInput[],
  ): Promise<void> {
    await db.transaction(async (tx) => {
      await tx('notifications')
        .where({ id: row.id })
        .update({ ...columns, updated_at: tx.fn.now() });
      await insertLinkEvents(tx, row.account_id, row.link_id, events);
    });
  }

  const eventData = (row: NotificationRow, extra: Record<string, unknown> = {}) => ({
    notification_id: row.id,
    channel: row.channel,
    message_type: row.message_type,
    ...extra,
  });

  return {
    /** The message's row, created on the first attempt; each call counts an attempt. */
    async begin(input: {
      accountId: string;
      linkId: string;
      messageKey: string;
      channel: Channel;
      type: MessageType;
      recipient: string;
    }): Promise<NotificationRow> {
      const [row] = await db('notifications')
        .insert({
          id: newId('ntf'),
          account_id: input.accountId,
          link_id: input.linkId,
          message_key: input.messageKey,
          channel: input.channel,
          message_type: input.type,
          recipient: input.recipient,
          status: 'pending',
          attempts: 1,
          unsubscribe_token: randomBytes(18).toString('base64url'),
        })
        .onConflict(['link_id', 'message_key'])
        .merge({ attempts: db.raw('notifications.attempts + 1'), updated_at: db.fn.now() })
        .returning('*');
      return row as NotificationRow;
    },

    async markSent(
      row: NotificationRow,
      providerMessageId: string,
      extraEvents: LinkEventInput[],
    ): Promise<void> {
      await transition(
        row,
        {
          status: 'sent',
          provider_message_id: providerMessageId,
          sent_at: db.fn.now(),
          error_code: null,
          error_reason: null,
        },
        [
          {
            key: `ntf:${row.id}:sent`,
            type: EventTypes.notificationSent,
            data: eventData(row, { provider_message_id: providerMessageId }),
          },
          ...extraEvents,
        ],
      );
    },

    async markFailed(row: NotificationRow, code: string, reason: string): Promise<void> {
      await transition(row, { status: 'failed', error_code: code, error_reason: reason }, [
        {
          key: `ntf:${row.id}:failed`,
          type: EventTypes.notificationFailed,
          data: eventData(row, { error_code: code, error_reason: reason }),
        },
      ]);
    },

    async markSuppressed(row: NotificationRow, reason: 'opted_out' | 'link_closed'): Promise<void> {
      await transition(row, { status: 'suppressed', error_code: reason }, [
        {
          key: `ntf:${row.id}:suppressed`,
          type: EventTypes.notificationSuppressed,
          data: eventData(row, { reason }),
        },
      ]);
    },

    async isOptedOut(accountId: string, channel: Channel, address: string): Promise<boolean> {
      const row = await db('contact_opt_outs')
        .where({ account_id: accountId, channel, address: optOutKey(channel, address) })
        .first('id');
      return row !== undefined;
    },

    /** Records a "stop" for the address on the channel, and puts it on the link's timeline. */
    async optOut(row: NotificationRow, source: 'unsubscribe_link' | 'provider_stop'): Promise<void> {
      await db.transaction(async (tx) => {
        await tx('contact_opt_outs')
          .insert({
            account_id: row.account_id,
            channel: row.channel,
            address: optOutKey(row.channel, row.recipient),
            source,
          })
          .onConflict(['account_id', 'channel', 'address'])
          .ignore();
        await insertLinkEvents(tx, row.account_id, row.link_id, [
          {
            key: `optout:${row.channel}`,
            type: EventTypes.customerOptedOut,
            data: { channel: row.channel, source },
          },
        ]);
      });
    },

    findByUnsubscribeToken(token: string): Promise<NotificationRow | undefined> {
      return db('notifications').where({ unsubscribe_token: token }).first();
    },

    /**
     * A provider's delivery report. Every status is kept on the row; the final ones (delivered,
     * undelivered, failed) also change the notification's status and its timeline.
     */
    async applyProviderStatus(
      providerMessageId: string,
      providerStatus: string,
      errorCode?: string,
    ): Promise<boolean> {
      const row: NotificationRow | undefined = await db('notifications')
        .where({ provider_message_id: providerMessageId })
        .first();
      if (!row) return false;
      const mapped = PROVIDER_STATUSES[providerStatus];
      // Final statuses are final: a late or replayed report only updates provider_status.
      const open = row.status === 'sent' || row.status === 'sending' || row.status === 'pending';
      if (!mapped || !open) {
        await db('notifications')
          .where({ id: row.id })
          .update({ provider_status: providerStatus, updated_at: db.fn.now() });
        return true;
      }
      const code = errorCode ? `twilio_${errorCode}` : undefined;
      await transition(
        row,
        {
          status: mapped.status,
          provider_status: providerStatus,
          ...(mapped.status === 'delivered' ? { delivered_at: db.fn.now() } : {}),
          ...(code ? { error_code: code } : {}),
        },
        [
          {
            key: `ntf:${row.id}:${mapped.status}`,
            type: mapped.event,
            data: eventData(row, code ? { error_code: code } : {}),
          },
        ],
      );
      return true;
    },
  };
}

export function createNotificationStore(db: Db) {
  return {
    ...notificationOps(db),

    /**
     * Claims the message for sending, for a lease longer than one attempt can last. Returns
     * 'closed' (and suppresses it) when the link is no longer open and `needsOpenLink`, 'busy'
     * while another attempt holds the lease, 'claimed' otherwise. A short transaction: no lock
     * is held while the provider is called.
     */
    claim(
      row: NotificationRow,
      opts: { needsOpenLink: boolean; leaseSeconds: number },
    ): Promise<'claimed' | 'busy' | 'closed'> {
      return db.transaction(async (tx) => {
        const link = await tx('payment_links')
          .where({ id: row.link_id, account_id: row.account_id })
          .forShare()
          .first('status');
        if (opts.needsOpenLink && (!link || TERMINAL_STATUSES.includes(link.status))) {
          await notificationOps(tx).markSuppressed(row, 'link_closed');
          return 'closed';
        }
        const claimed = await tx('notifications')
          .where({ id: row.id })
          .andWhere((w) =>
            w
              .where('status', 'pending')
              .orWhere((s) => s.where('status', 'sending').andWhere('lease_until', '<', tx.fn.now())),
          )
          .update({
            status: 'sending',
            lease_until: tx.raw(`now() + make_interval(secs => ?)`, [opts.leaseSeconds]),
            updated_at: tx.fn.now(),
          });
        return claimed === 1 ? 'claimed' : 'busy';
      });
    },

    /** A transient failure: the claim is released and the reason kept for operators. */
    async releaseAfterError(row: NotificationRow, reason: string): Promise<void> {
      await db('notifications')
        .where({ id: row.id, status: 'sending' })
        .update({ status: 'pending', lease_until: null, error_reason: reason, updated_at: db.fn.now() });
    },
  };
}

export type NotificationStore = ReturnType<typeof createNotificationStore>;
