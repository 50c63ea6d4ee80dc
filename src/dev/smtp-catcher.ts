/**
 * A real SMTP server on 127.0.0.1 that keeps what it receives: the mail catcher of development
 * (behind /dev/outbox) and of tests. It can refuse recipients, to exercise permanent failures.
 */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  receivedAt: Date;
  envelopeTo: string[];
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpCatcher {
  url: string;
  port: number;
  messages: CaughtMail[];
  /** Answer RCPT TO for this address with a permanent 550. */
  rejectRecipient(address: string): void;
  stop(): Promise<void>;
}

export async function startSmtpCatcher(port = 0): Promise<SmtpCatcher> {
  const messages: CaughtMail[] = [];
  const rejected = new Set<string>();
  const server = new SMTPServer({
    // The bundled certificate has expired; plain SMTP on loopback is what this is for.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    // A local stand-in: stopping it drops pooled connections at once rather than waiting 30 s.
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) {
        const err = Object.assign(new Error(`5.1.1 <${address.address}>: mailbox unavailable`), {
          responseCode: 550,
        });
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw, { keepCidLinks: true })
          .then((parsed) => {
            messages.push({
              receivedAt: new Date(),
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              raw,
              parsed,
            });
            callback();
          })
          .catch(callback);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  // A client that vanishes mid-session (a killed worker) resets its socket: that ends the
  // session, not the server (unhandled, the 'error' event would take the process down).
  server.on('error', () => {});
  const actual = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${actual}`,
    port: actual,
    messages,
    rejectRecipient: (address) => rejected.add(address.toLowerCase()),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
