/**
 * A local HTTP endpoint that speaks the part of Twilio's Messages API Paylinks uses: form-encoded
 * POST to /2010-04-01/Accounts/{sid}/Messages.json with basic auth, Twilio's JSON answers and
 * error bodies. Development points the twilio client at it; tests make it fail on purpose.
 */
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';

export interface SentSms {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  receivedAt: Date;
}

export interface InjectedFailure {
  status: number;
  code: number;
  message: string;
  /** How many requests it answers before the endpoint accepts again (default: all). */
  times?: number;
}

export interface TwilioEndpoint {
  router: Router;
  accountSid: string;
  authToken: string;
  messages: SentSms[];
  /** Requests seen, accepted or not (to count retries). */
  requests: { to: string; status: number }[];
  failFor(to: string, failure: InjectedFailure): void;
}

const twilioError = (status: number, code: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

export function createTwilioEndpoint(
  accountSid = `AC${randomBytes(16).toString('hex')}`,
  authToken = randomBytes(16).toString('hex'),
): TwilioEndpoint {
  const messages: SentSms[] = [];
  const requests: { to: string; status: number }[] = [];
  const failures = new Map<string, InjectedFailure>();
  const router = express.Router();
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  router.post(
    '/2010-04-01/Accounts/:sid/Messages.json',
    express.urlencoded({ extended: false }),
    (req, res) => {
      if (req.get('authorization') !== expectedAuth || req.params.sid !== accountSid) {
        res.status(401).json(twilioError(401, 20003, 'Authenticate'));
        return;
      }
      const body = req.body as Record<string, string | undefined>;
      const to = body.To ?? '';
      const failure = failures.get(to);
      if (failure) {
        if (failure.times !== undefined && --failure.times <= 0) failures.delete(to);
        requests.push({ to, status: failure.status });
        res.status(failure.status).json(twilioError(failure.status, failure.code, failure.message));
        return;
      }
      if (!to || !body.Body || (!body.From && !body.MessagingServiceSid)) {
        requests.push({ to, status: 400 });
        res
          .status(400)
          .json(
            twilioError(
              400,
              21604,
              "A 'To' phone number, a 'From' or 'MessagingServiceSid', and a 'Body' are required.",
            ),
          );
        return;
      }
      const message: SentSms = {
        sid: `SM${randomBytes(16).toString('hex')}`,
        to,
        from: body.From ?? null,
        messagingServiceSid: body.MessagingServiceSid ?? null,
        body: body.Body,
        statusCallback: body.StatusCallback ?? null,
        receivedAt: new Date(),
      };
      messages.push(message);
      requests.push({ to, status: 201 });
      const now = message.receivedAt.toUTCString();
      res.status(201).json({
        sid: message.sid,
        account_sid: accountSid,
        to: message.to,
        from: message.from,
        messaging_service_sid: message.messagingServiceSid,
        body: message.body,
        status: 'queued',
        num_segments: '1',
        direction: 'outbound-api',
        api_version: '2010-04-01',
        date_created: now,
        date_updated: now,
        date_sent: null,
        error_code: null,
        error_message: null,
        price: null,
        price_unit: 'USD',
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}.json`,
      });
    },
  );

  return {
    router,
    accountSid,
    authToken,
    messages,
    requests,
    failFor: (to, failure) => failures.set(to, { ...failure }),
  };
}
