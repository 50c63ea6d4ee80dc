/** Signed mail: both List-Unsubscribe headers are covered by the DKIM signature (RFC 8058). */
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/dev/smtp-catcher';
import { createEmailSender, type EmailSender } from '../../src/notifications/email-sender';

let smtp: SmtpCatcher;
let sender: EmailSender;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKeyBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

beforeAll(async () => {
  smtp = await startSmtpCatcher();
  sender = createEmailSender({
    smtpUrl: smtp.url,
    from: 'Shop <billing@shop.test>',
    ignoreTLS: true,
    dkim: {
      domainName: 'shop.test',
      keySelector: 'pl1',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
  });
});
afterAll(async () => {
  sender?.close();
  await smtp?.stop();
});

it('signs the List-Unsubscribe and List-Unsubscribe-Post headers, and the signature verifies', async () => {
  await sender.send({
    to: 'ada@example.com',
    subject: 'Reminder',
    text: 'Please pay',
    html: '<p>Please pay</p>',
    headers: {
      'List-Unsubscribe': '<https://pay.example.test/u/abc>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  });
  const raw = smtp.messages[0]?.raw ?? '';
  const signature = raw.match(/^DKIM-Signature:[\s\S]*?(?=\r?\n\S)/m)?.[0] ?? '';
  const signedHeaders =
    /\bh=([^;]+)/.exec(signature.replace(/\s+/g, ''))?.[1]?.toLowerCase().split(':') ?? [];
  expect(signedHeaders).toEqual(
    expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'from', 'subject']),
  );

  const result = await dkimVerify(raw, {
    // The public key, as DNS would publish it at pl1._domainkey.shop.test.
    resolver: async (name: string, type: string) => {
      if (name === 'pl1._domainkey.shop.test' && type === 'TXT')
        return [[`v=DKIM1; k=rsa; p=${publicKeyBase64}`]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
  expect(result.results.map((r: { status: { result: string } }) => r.status.result)).toEqual(['pass']);
});
