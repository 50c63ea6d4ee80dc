/**
 * The local Messages endpoint (src/dev/twilio-endpoint.ts) as a process of its own, for the
 * compose stack: the worker's SMS go here instead of to Twilio, and each one is logged.
 * Development only; it answers whoever presents its account sid and token.
 */
import express from 'express';
import { z } from 'zod';
import { createLogger } from '../logger';
import { createTwilioEndpoint } from './twilio-endpoint';

const env = z
  .object({
    TWILIO_ACCOUNT_SID: z.string().min(1),
    TWILIO_AUTH_TOKEN: z.string().min(1),
    PORT: z.coerce.number().int().min(1).max(65535).default(4010),
  })
  .parse(process.env);

const logger = createLogger('info', 'sms-sink');
const endpoint = createTwilioEndpoint(env.TWILIO_ACCOUNT_SID, env.TWILIO_AUTH_TOKEN);
const app = express();
app.use((_req, res, next) => {
  const before = endpoint.messages.length;
  res.on('finish', () => {
    for (const sms of endpoint.messages.slice(before))
      logger.info({ to: sms.to, sid: sms.sid }, `SMS: ${sms.body}`);
  });
  next();
});
app.use(endpoint.router);
const server = app.listen(env.PORT, () => logger.info(`SMS sink listening on :${env.PORT}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close());
