import type { NotificationConfig } from '../config';
import type { DevPeers } from '../dev/peers';
import { createEmailSender, type EmailSender } from './email-sender';
import { createSmsSender, type SmsSender } from './sms-sender';

export interface Channels {
  email: EmailSender;
  sms: SmsSender;
  /** Verifies twilio's status callbacks. */
  twilioAuthToken: string;
  close(): void;
}

export const twilioStatusCallbackUrl = (publicBaseUrl: string) =>
  `${publicBaseUrl}/v1/callbacks/twilio/status`;

/** Real providers where configured; the local peers for whatever is not. */
export function createChannels(config: NotificationConfig, publicBaseUrl: string, dev?: DevPeers): Channels {
  const smtpUrl = config.smtpUrl ?? dev?.smtp.url;
  const twilio =
    config.twilio ??
    (dev && {
      accountSid: dev.twilio.accountSid,
      authToken: dev.twilio.authToken,
      from: dev.smsFrom,
      messagingServiceSid: undefined,
      apiBaseUrl: dev.twilioBaseUrl,
    });
  if (!smtpUrl) throw new Error('SMTP_URL is not set: email cannot be sent');
  if (!twilio) throw new Error('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set: SMS cannot be sent');
  const email = createEmailSender({
    smtpUrl,
    from: config.mailFrom,
    ignoreTLS: !config.smtpUrl,
    dkim: config.dkim,
  });
  const sms = createSmsSender({ ...twilio, statusCallbackUrl: twilioStatusCallbackUrl(publicBaseUrl) });
  return { email, sms, twilioAuthToken: twilio.authToken, close: () => email.close() };
}
