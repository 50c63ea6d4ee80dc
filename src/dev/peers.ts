/**
 * The stand-ins for real providers that development and tests run on 127.0.0.1: a real SMTP
 * server, and an HTTP endpoint that speaks twilio's Messages API. Never used in production.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { type SmtpCatcher, startSmtpCatcher } from './smtp-catcher';
import { createTwilioEndpoint, type TwilioEndpoint } from './twilio-endpoint';

export interface DevPeers {
  smtp: SmtpCatcher;
  twilio: TwilioEndpoint;
  twilioBaseUrl: string;
  /** The sender number the local endpoint accepts (Twilio's test "from" number). */
  smsFrom: string;
  stop(): Promise<void>;
}

export async function startDevPeers(ports: { smtp?: number; sms?: number } = {}): Promise<DevPeers> {
  const smtp = await startSmtpCatcher(ports.smtp ?? 0);
  const twilio = createTwilioEndpoint();
  const app = express();
  app.use(twilio.router);
  const server: Server = await new Promise((ready) => {
    const s = app.listen(ports.sms ?? 0, '127.0.0.1', () => ready(s));
  });
  const { port } = server.address() as AddressInfo;
  const peers: DevPeers = {
    smtp,
    twilio,
    twilioBaseUrl: `http://127.0.0.1:${port}`,
    smsFrom: '+15005550006',
    async stop() {
      await new Promise((done) => server.close(done));
      await peers.smtp.stop(); // whichever server is current (a test may have replaced it)
    },
  };
  return peers;
}
