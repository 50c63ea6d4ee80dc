import nodemailer, { type Mail } from 'nodemailer';
import { type Accepted, PermanentDeliveryError } from './delivery-errors';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
  attachments?: { filename: string; content: Buffer; contentType: string; cid: string }[];
  /**
   * The message's own id (a notification id): it becomes the Message-ID, so a resend of the same
   * message is recognisably the same message (see messageIdFor).
   */
  messageKey?: string;
}

export interface EmailSender {
  send(email: OutgoingEmail): Promise<Accepted>;
  close(): void;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  permanent?: boolean;
  message?: string;
}

export interface DkimConfig {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/**
 * The header fields DKIM signs: RFC 6376's recommended set plus both List-Unsubscribe headers,
 * which RFC 8058 requires to be signed for one-click unsubscribe to be honoured.
 */
export const DKIM_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
].join(':');

/**
 * A stable Message-ID for one message. SMTP takes no idempotency key, so a worker killed after
 * the server took the DATA but before the send was recorded leaves the message "maybe sent", and
 * the retry after the claim's lease sends it again (activities/notifications.ts). With the same
 * Message-ID both times, that copy is the same message, not a second one: mailbox providers
 * that deduplicate on it (Gmail does) show it once, and anyone can tell the two apart.
 */
export function messageIdFor(messageKey: string, from: string): string {
  const domain = /@([^\s>]+)>?\s*$/.exec(from)?.[1] ?? 'paylinks.invalid';
  return `<${messageKey}@${domain}>`;
}

/** SMTP through a pooled nodemailer transport, DKIM-signed when a key is configured. */
export function createEmailSender(options: {
  smtpUrl: string;
  from: string;
  ignoreTLS?: boolean;
  dkim?: DkimConfig;
}): EmailSender {
  const url = new URL(options.smtpUrl);
  url.searchParams.set('pool', 'true');
  // Below the activity's 60 s timeout, so a slow server fails this attempt instead of
  // overlapping the next one.
  url.searchParams.set('connectionTimeout', '10000');
  url.searchParams.set('greetingTimeout', '10000');
  url.searchParams.set('socketTimeout', '30000');
  const transport: Mail = nodemailer.createTransport(url.toString(), {
    from: options.from,
    ...(options.dkim ? { dkim: { ...options.dkim, headerFieldNames: DKIM_SIGNED_HEADERS } } : {}),
  });
  if (options.ignoreTLS) (transport.options as { ignoreTLS?: boolean }).ignoreTLS = true;

  return {
    async send(email) {
      try {
        const { messageKey, ...mail } = email;
        const info = await transport.sendMail({
          ...mail,
          ...(messageKey ? { messageId: messageIdFor(messageKey, options.from) } : {}),
        });
        if ((info.rejected?.length ?? 0) > 0) {
          throw new PermanentDeliveryError('smtp_rejected', `recipient refused: ${String(info.response)}`);
        }
        return { providerMessageId: info.messageId };
      } catch (err) {
        if (err instanceof PermanentDeliveryError) throw err;
        const e = err as SmtpFailure;
        // nodemailer marks 5xx replies (except 503) permanent; 4xx and connection errors are not.
        if (e.permanent === true) {
          throw new PermanentDeliveryError(
            `smtp_${e.responseCode ?? 'rejected'}`,
            e.response ?? e.message ?? 'rejected',
          );
        }
        throw new Error(
          `SMTP ${e.code ?? 'error'}${e.responseCode ? ` ${e.responseCode}` : ''}: ${e.response ?? e.message}`,
        );
      }
    },
    close: () => transport.close(),
  };
}
