import twilio from 'twilio';
import { type Accepted, PermanentDeliveryError } from './delivery-errors';

export interface SmsSender {
  send(message: { to: string; body: string }): Promise<Accepted>;
}

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  from?: string;
  messagingServiceSid?: string;
  /** Where twilio reports delivery (`/v1/callbacks/twilio/status`). */
  statusCallbackUrl: string;
  /** A local endpoint that speaks the Messages API, for development and tests. */
  apiBaseUrl?: string;
}

/** Twilio error code for "the recipient replied STOP". */
export const TWILIO_UNSUBSCRIBED = 21610;

export function createSmsSender(options: TwilioOptions): SmsSender {
  const client = twilio(options.accountSid, options.authToken);
  // twilio has no base-URL option; `api.baseUrl` is the documented public property.
  if (options.apiBaseUrl) client.api.baseUrl = options.apiBaseUrl.replace(/\/+$/, '');
  const sender = options.messagingServiceSid
    ? { messagingServiceSid: options.messagingServiceSid }
    : { from: options.from as string };

  return {
    async send({ to, body }) {
      try {
        const message = await client.messages.create({
          to,
          body,
          statusCallback: options.statusCallbackUrl,
          ...sender,
        });
        return { providerMessageId: message.sid };
      } catch (err) {
        const e = err as { status?: number; code?: number; message?: string };
        // Rate limiting and server errors are worth retrying; any other refusal is final.
        if (typeof e.status === 'number' && e.status !== 429 && e.status < 500) {
          throw new PermanentDeliveryError(
            `twilio_${e.code ?? e.status}`,
            e.message ?? 'rejected',
            e.code === TWILIO_UNSUBSCRIBED,
          );
        }
        throw new Error(`twilio ${e.status ?? 'error'}${e.code ? ` (${e.code})` : ''}: ${e.message}`);
      }
    },
  };
}
