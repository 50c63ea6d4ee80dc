/**
 * Messages that really deliver: a real SMTP server on 127.0.0.1 receives the mail (parsed with
 * mailparser), a local endpoint speaking twilio's Messages API receives the SMS, and delivery is
 * tracked message by message.
 */
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/dev/smtp-catcher';
import { qrPng } from '../../src/notifications/qr';
import { cancelUpdate, resendUpdate } from '../../workflows/payment-link/contract';
import { type LinkHandle, linkTools } from '../helpers/links';
import { PUBLIC_BASE_URL, type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

let seq = 0;
/** A recipient no other test in this file uses. */
const unique = () => {
  seq += 1;
  return { email: `customer${seq}@example.com`, phone: `+1415555${String(1000 + seq).padStart(4, '0')}` };
};

const mailTo = (address: string, count = 1) =>
  eventually(
    async () => {
      const mails = stack.peers.smtp.messages.filter((m) => m.envelopeTo.includes(address));
      return mails.length >= count ? mails : undefined;
    },
    WAIT_MS,
    `${count} mail(s) to ${address}`,
  );

const smsTo = (phone: string, count = 1) =>
  eventually(
    async () => {
      const sent = stack.peers.twilio.messages.filter((m) => m.to === phone);
      return sent.length >= count ? sent : undefined;
    },
    WAIT_MS,
    `${count} SMS to ${phone}`,
  );

const notificationsOf = (linkId: string) =>
  stack.db('notifications').where({ link_id: linkId }).orderBy('created_at');
/**
 * No send of the link is running or waiting for a retry: every attempt there will be has been
 * made, so a count of what the providers received is final.
 */
const untilNoSendPending = (handle: LinkHandle) =>
  eventually(
    async () =>
      (await handle.describe()).raw.pendingActivities?.some((a) => a.activityType?.name === 'notifyCustomer')
        ? undefined
        : true,
    WAIT_MS,
    `no send of ${handle.workflowId} to be pending`,
  );
const subjectStarts = (mails: { parsed: { subject?: string } }[], prefix: string) =>
  mails.find((m) => m.parsed.subject?.startsWith(prefix));
const header = (mail: { parsed: { headerLines: { key: string; line: string }[] } }, key: string) =>
  mail.parsed.headerLines.find((h) => h.key === key.toLowerCase())?.line;

describe.concurrent('email', () => {
  it('sends the link: both parts, the pay link, the amount, the expiry, the inline QR code', async () => {
    const to = unique();
    const { id, row } = await t.create({
      amount: 1999,
      currency: 'USD',
      description: 'Invoice 42',
      customer: { name: 'Ada', email: to.email, locale: 'en-US', timezone: 'America/New_York' },
      channels: ['email'],
      expires_at: '2026-12-24T17:00:00Z',
    });
    const [mail] = await mailTo(to.email);
    const url = `${PUBLIC_BASE_URL}/l/${row.token}`;
    expect(mail?.parsed.subject).toBe('Test shop requests a payment of $19.99');
    expect(mail?.parsed.from?.value).toEqual([{ name: 'Test shop', address: 'billing@shop.test' }]);
    expect(mail?.parsed.text).toContain('Hello Ada,');
    expect(mail?.parsed.text).toContain('Invoice 42');
    expect(mail?.parsed.text).toContain(`Pay now: ${url}`);
    expect(mail?.parsed.text).toContain('December 24, 2026 at 12:00 PM EST'); // the customer's zone
    expect(mail?.parsed.html).toContain(`href="${url}"`);
    expect(mail?.parsed.html).toContain('$19.99');
    const qr = mail?.parsed.attachments.find((a) => a.contentType === 'image/png');
    expect(qr?.cid).toBeTruthy();
    expect(mail?.parsed.html).toContain(`cid:${qr?.cid}`);
    expect(qr?.content.equals(await qrPng(url))).toBe(true);
    expect(header(mail as never, 'List-Unsubscribe')).toBeUndefined(); // not on the link itself

    const [notification] = await eventually(async () => {
      const rows = await notificationsOf(id);
      return rows[0]?.status === 'sent' ? rows : undefined;
    });
    expect(notification).toMatchObject({
      channel: 'email',
      message_type: 'link',
      recipient: to.email,
      attempts: 1,
    });
    expect(notification.provider_message_id).toBe(mail?.parsed.messageId);
    const types = (await t.events(id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['notification.sent', 'payment_link.sent']));
  });

  it('formats amounts for the currency and the customer’s locale, with a French template', async () => {
    const fr = unique();
    await t.create({
      amount: 1999,
      currency: 'EUR',
      customer: { email: fr.email, locale: 'fr-FR' },
      channels: ['email'],
    });
    const [mail] = await mailTo(fr.email);
    expect(mail?.parsed.subject).toMatch(/^Test shop vous demande un paiement de 19,99\s€$/u);
    expect(mail?.parsed.text).toContain('Bonjour,');
    expect(mail?.parsed.text).toMatch(/Payer maintenant: https:/);

    const jp = unique();
    await t.create({
      amount: 1999,
      currency: 'JPY',
      customer: { email: jp.email, locale: 'en-US' },
      channels: ['email'],
    });
    expect((await mailTo(jp.email))[0]?.parsed.subject).toBe('Test shop requests a payment of ¥1,999');

    const fallback = unique();
    await t.create({
      amount: 1999,
      currency: 'USD',
      customer: { email: fallback.email, locale: 'de-DE' },
      channels: ['email'],
    });
    // No German template: English words, German number format.
    expect((await mailTo(fallback.email))[0]?.parsed.subject).toMatch(
      /^Test shop requests a payment of 19,99\s\$$/u,
    );
  });

  it('reminders carry RFC 8058 one-click unsubscribe headers; receipts do not', async () => {
    const to = unique();
    const { handle } = await t.create({
      amount: 500,
      customer: { email: to.email },
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT1S'] },
    });
    // The link and its reminder, in whichever order a loaded machine delivers them.
    const reminder = subjectStarts(await mailTo(to.email, 2), 'Reminder');
    expect(reminder?.parsed.subject).toBe('Reminder: $5.00 due to Test shop');
    const listUnsubscribe = header(reminder as never, 'List-Unsubscribe');
    expect(listUnsubscribe).toMatch(
      new RegExp(`^List-Unsubscribe: <${PUBLIC_BASE_URL}/u/[A-Za-z0-9_-]{24}>$`),
    );
    expect(header(reminder as never, 'List-Unsubscribe-Post')).toBe(
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    );

    await t.pay(handle, { paymentId: `pi_${to.email}`, amount: 500 });
    const receipt = subjectStarts(await mailTo(to.email, 3), 'Receipt');
    expect(receipt?.parsed.subject).toBe('Receipt: $5.00 paid to Test shop');
    expect(header(receipt as never, 'List-Unsubscribe')).toBeUndefined();
    expect(header(receipt as never, 'List-Unsubscribe-Post')).toBeUndefined();
  });

  it('unsubscribing stops later reminders on that channel', async () => {
    const to = unique();
    const { id } = await t.create({
      amount: 500,
      customer: { email: to.email },
      channels: ['email'],
      quiet_hours: null,
      // The second reminder leaves ample time to unsubscribe after the first, on a loaded machine.
      reminders: { after_created: ['PT1S', 'PT15S'] },
    });
    const firstReminder = subjectStarts(await mailTo(to.email, 2), 'Reminder');
    const unsubscribeUrl =
      /<([^>]+)>/.exec(header(firstReminder as never, 'List-Unsubscribe') ?? '')?.[1] ?? '';
    // What a mail client does for one-click: POST List-Unsubscribe=One-Click to the URL.
    const res = await fetch(unsubscribeUrl.replace(PUBLIC_BASE_URL, stack.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    const suppressed = await eventually(
      async () => {
        const rows = await notificationsOf(id);
        return rows.find((r) => r.status === 'suppressed');
      },
      WAIT_MS,
      'the second reminder to be suppressed',
    );
    expect(suppressed).toMatchObject({ message_type: 'reminder', error_code: 'opted_out' });
    expect(stack.peers.smtp.messages.filter((m) => m.envelopeTo.includes(to.email))).toHaveLength(2);
    expect(await stack.db('contact_opt_outs').where({ address: to.email })).toMatchObject([
      { channel: 'email', source: 'unsubscribe_link' },
    ]);
    expect((await t.events(id)).map((e) => e.type)).toContain('customer.opted_out');
  });

  it('a recipient the SMTP server rejects is a permanent failure; SMS still goes, the link lives on', async () => {
    const to = unique();
    stack.peers.smtp.rejectRecipient(to.email);
    const { id, handle } = await t.create({
      amount: 700,
      customer: { email: to.email, phone: to.phone },
      channels: ['email', 'sms'],
    });
    const failed = await eventually(async () => {
      const rows = await notificationsOf(id);
      return rows.find((r) => r.channel === 'email' && r.status === 'failed');
    });
    expect(failed).toMatchObject({ error_code: 'smtp_550', attempts: 1 });
    expect(failed.error_reason).toMatch(/mailbox unavailable/);
    await smsTo(to.phone);
    expect((await t.events(id)).map((e) => e.type)).toContain('notification.failed');
    await t.pay(handle, { paymentId: `pi_${to.phone}`, amount: 700 });
    await t.untilStatus(id, 'paid');
  });

  it('a receipt after payment, and a cancellation notice when the merchant asks', async () => {
    const paid = unique();
    const one = await t.create({ amount: 900, customer: { email: paid.email }, channels: ['email'] });
    await t.pay(one.handle, { paymentId: `pi_${paid.email}`, amount: 900 });
    // The link's own mail may be suppressed if the payment closed it first; the receipt always goes.
    const receipt = await eventually(async () =>
      stack.peers.smtp.messages.find(
        (m) => m.envelopeTo.includes(paid.email) && m.parsed.subject?.startsWith('Receipt'),
      ),
    );
    expect(receipt.parsed.subject).toBe('Receipt: $9.00 paid to Test shop');

    const cancelled = unique();
    const two = await t.create({ amount: 900, customer: { email: cancelled.email }, channels: ['email'] });
    await mailTo(cancelled.email);
    await two.handle.executeUpdate(cancelUpdate, { args: [{ notifyCustomer: true }] });
    expect((await mailTo(cancelled.email, 2))[1]?.parsed.subject).toBe(
      'Test shop cancelled a payment request',
    );
  });
});

describe('SMTP outage', () => {
  it('is retried with backoff, and the message is delivered once', async () => {
    const to = unique();
    const { port } = stack.peers.smtp;
    await stack.peers.smtp.stop(); // the mail server goes away
    let back: SmtpCatcher | undefined;
    try {
      const { id, handle } = await t.create({
        amount: 300,
        customer: { email: to.email },
        channels: ['email'],
      });
      const failing = await eventually(
        async () => {
          const [row] = await notificationsOf(id);
          return row && row.attempts >= 2 ? row : undefined;
        },
        WAIT_MS,
        'two failed attempts',
      );
      // Refused, not given up: waiting for its next attempt, or in it (then `sending`).
      expect(['pending', 'sending']).toContain(failing.status);
      expect(failing.error_reason).toMatch(/ECONNREFUSED|ESOCKET|connect/);

      back = await startSmtpCatcher(port); // and comes back on the same address
      const [row] = await eventually(
        async () => {
          const rows = await notificationsOf(id);
          return rows[0]?.status === 'sent' ? rows : undefined;
        },
        WAIT_MS,
        'the mail to be sent after the outage',
      );
      expect(row.attempts).toBeGreaterThanOrEqual(2); // at least one refused attempt, then success
      await untilNoSendPending(handle);
      expect(back.messages.filter((m) => m.envelopeTo.includes(to.email))).toHaveLength(1);
    } finally {
      // Later tests and teardown need a server that is up, whatever failed here.
      stack.peers.smtp = back ?? (await startSmtpCatcher(port));
    }
  });
});

describe.concurrent('SMS', () => {
  it('sends a short body with the amount and the link, within one segment', async () => {
    const to = unique();
    const { id, row } = await t.create({
      amount: 1999,
      customer: { phone: '+1 (415) 555-0199'.replace('0199', to.phone.slice(-4)) },
      channels: ['sms'],
    });
    expect(row.customer?.phone).toBe(to.phone); // normalised to E.164 at the edge
    const [sms] = await smsTo(to.phone);
    expect(sms?.body).toBe(`Test shop: please pay $19.99 at ${PUBLIC_BASE_URL}/l/${row.token}`);
    expect(sms?.body.length).toBeLessThanOrEqual(160);
    expect(sms?.from).toBe('+15005550006');
    expect(sms?.statusCallback).toBe(`${PUBLIC_BASE_URL}/v1/callbacks/twilio/status`);
    const [notification] = await eventually(async () => {
      const rows = await notificationsOf(id);
      return rows[0]?.status === 'sent' ? rows : undefined;
    });
    expect(notification.provider_message_id).toBe(sms?.sid);
  });

  for (const [code, message] of [
    [21211, "The 'To' number is not a valid phone number."],
    [21614, "'To' number is not a valid mobile number"],
  ] as const) {
    it(`twilio ${code} is a permanent failure, not retried`, async () => {
      const to = unique();
      stack.peers.twilio.failFor(to.phone, { status: 400, code, message });
      const { id, handle } = await t.create({
        amount: 100,
        customer: { phone: to.phone },
        channels: ['sms'],
      });
      const failed = await eventually(async () => {
        const [row] = await notificationsOf(id);
        return row?.status === 'failed' ? row : undefined;
      });
      expect(failed).toMatchObject({ error_code: `twilio_${code}`, error_reason: message, attempts: 1 });
      await untilNoSendPending(handle); // a retry would still be pending
      expect(stack.peers.twilio.requests.filter((r) => r.to === to.phone)).toHaveLength(1);
    });
  }

  it('twilio 21610 (replied STOP) opts the customer out of SMS; later messages are suppressed', async () => {
    const to = unique();
    stack.peers.twilio.failFor(to.phone, {
      status: 400,
      code: 21610,
      message: 'Attempt to send to unsubscribed recipient',
    });
    const { id, handle } = await t.create({ amount: 100, customer: { phone: to.phone }, channels: ['sms'] });
    await eventually(async () => ((await notificationsOf(id))[0]?.status === 'failed' ? true : undefined));
    expect(await stack.db('contact_opt_outs').where({ address: to.phone })).toMatchObject([
      { channel: 'sms', source: 'provider_stop' },
    ]);
    await handle.executeUpdate(resendUpdate, { args: [{ channel: 'sms' }] });
    const suppressed = await eventually(async () =>
      (await notificationsOf(id)).find((r) => r.status === 'suppressed'),
    );
    expect(suppressed.message_type).toBe('link');
    await untilNoSendPending(handle);
    expect(stack.peers.twilio.requests.filter((r) => r.to === to.phone)).toHaveLength(1);
  });

  for (const [status, code] of [
    [429, 20429],
    [500, 20500],
  ] as const) {
    it(`twilio HTTP ${status} is retried by Temporal until accepted, and sent once`, async () => {
      const to = unique();
      stack.peers.twilio.failFor(to.phone, { status, code, message: 'try again', times: 2 });
      const { id } = await t.create({ amount: 100, customer: { phone: to.phone }, channels: ['sms'] });
      const sent = await eventually(
        async () => {
          const [row] = await notificationsOf(id);
          return row?.status === 'sent' ? row : undefined;
        },
        WAIT_MS,
        'the SMS to be accepted after retries',
      );
      expect(sent.attempts).toBe(3);
      expect(stack.peers.twilio.requests.filter((r) => r.to === to.phone).map((r) => r.status)).toEqual([
        status,
        status,
        201,
      ]);
      expect(stack.peers.twilio.messages.filter((m) => m.to === to.phone)).toHaveLength(1);
    });
  }
});

describe('twilio status callbacks', () => {
  const callbackUrl = `${PUBLIC_BASE_URL}/v1/callbacks/twilio/status`;
  const post = (params: Record<string, string>, signature?: string) =>
    fetch(`${stack.baseUrl}/v1/callbacks/twilio/status`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signature ? { 'x-twilio-signature': signature } : {}),
      },
      body: new URLSearchParams(params).toString(),
    });

  it('accepts a callback signed as twilio signs it, and records delivery', async () => {
    const to = unique();
    const { id } = await t.create({ amount: 100, customer: { phone: to.phone }, channels: ['sms'] });
    const [sms] = await smsTo(to.phone);
    await eventually(async () => ((await notificationsOf(id))[0]?.status === 'sent' ? true : undefined));
    const report = async (MessageStatus: string) => {
      const params = {
        MessageSid: sms?.sid ?? '',
        MessageStatus,
        AccountSid: stack.peers.twilio.accountSid,
        To: to.phone,
      };
      const signature = twilio.getExpectedTwilioSignature(
        stack.twilioAuthToken as string,
        callbackUrl,
        params,
      );
      expect((await post(params, signature)).status).toBe(204);
      return (await notificationsOf(id))[0];
    };
    // Every status twilio reports is kept; the final one also moves the notification on.
    expect(await report('queued')).toMatchObject({ status: 'sent', provider_status: 'queued' });
    expect(await report('sent')).toMatchObject({ status: 'sent', provider_status: 'sent' });
    const row = await report('delivered');
    expect(row).toMatchObject({ status: 'delivered', provider_status: 'delivered' });
    expect(row.delivered_at).not.toBeNull();
    // A late or replayed report cannot undo a final status.
    expect(await report('failed')).toMatchObject({ status: 'delivered', provider_status: 'failed' });
    expect((await t.events(id)).map((e) => e.type)).toContain('notification.delivered');
  });

  it('rejects a tampered or unsigned callback and changes nothing', async () => {
    const to = unique();
    const { id } = await t.create({ amount: 100, customer: { phone: to.phone }, channels: ['sms'] });
    const [sms] = await smsTo(to.phone);
    await eventually(async () => ((await notificationsOf(id))[0]?.status === 'sent' ? true : undefined));
    const signed = { MessageSid: sms?.sid ?? '', MessageStatus: 'delivered' };
    const signature = twilio.getExpectedTwilioSignature(stack.twilioAuthToken as string, callbackUrl, signed);
    const tampered = await post({ ...signed, MessageStatus: 'undelivered' }, signature);
    expect(tampered.status).toBe(403);
    expect(((await tampered.json()) as { error: { code: string } }).error.code).toBe('signature_invalid');
    expect((await post(signed)).status).toBe(403);
    const wrongKey = twilio.getExpectedTwilioSignature('not-the-token', callbackUrl, signed);
    expect((await post(signed, wrongKey)).status).toBe(403);
    expect((await notificationsOf(id))[0]?.status).toBe('sent');
  });
});

describe('QR codes and the dev outbox', () => {
  it('serves the link URL as PNG and SVG, and the API returns the QR URL', async () => {
    const created = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'USD' },
    });
    const { url, qr_code_url } = created.body;
    expect(qr_code_url).toBe(`${url}/qr.png`);
    const png = await fetch(qr_code_url.replace(PUBLIC_BASE_URL, stack.baseUrl));
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).equals(await qrPng(url))).toBe(true);
    const svg = await fetch(`${url.replace(PUBLIC_BASE_URL, stack.baseUrl)}/qr.svg`);
    expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await svg.text()).toMatch(/^<svg /);
    expect((await fetch(`${stack.baseUrl}/l/nope/qr.png`)).status).toBe(404);
  });

  it('/dev/outbox shows what customers received', async () => {
    const to = unique();
    await t.create({
      amount: 4200,
      customer: { email: to.email, phone: to.phone },
      channels: ['email', 'sms'],
    });
    await mailTo(to.email);
    await smsTo(to.phone);
    const outbox = (await (await fetch(`${stack.baseUrl}/dev/outbox.json`)).json()) as {
      emails: { to: string[]; subject: string; index: number }[];
      sms: { to: string; body: string }[];
    };
    const mail = outbox.emails.find((m) => m.to.includes(to.email));
    expect(mail?.subject).toBe('Test shop requests a payment of $42.00');
    expect(outbox.sms.find((m) => m.to === to.phone)?.body).toMatch(/^Test shop: please pay \$42\.00 at /);
    const page = await (await fetch(`${stack.baseUrl}/dev/outbox`)).text();
    expect(page).toContain('Test shop requests a payment of $42.00');
    const rendered = await (await fetch(`${stack.baseUrl}/dev/outbox/email/${mail?.index}`)).text();
    expect(rendered).toContain('data:image/png;base64,'); // the inline QR, viewable in a browser
  });
});
