import { Router } from 'express';
import type { DevPeers } from '../../dev/peers';
import { escapeHtml } from '../../notifications/messages';

/**
 * `/dev/outbox`: what the local SMTP server and SMS endpoint received, as a customer would see
 * it. Mounted only in development, never with NODE_ENV=production.
 */
export function devOutboxRoutes(peers: DevPeers): Router {
  const router = Router();
  const emails = () =>
    peers.smtp.messages.map((m, index) => ({
      index,
      received_at: m.receivedAt.toISOString(),
      to: m.envelopeTo,
      subject: m.parsed.subject ?? '',
      text: m.parsed.text ?? '',
      headers: m.parsed.headerLines.map((h) => h.line),
    }));
  const sms = () =>
    peers.twilio.messages.map((m) => ({
      sid: m.sid,
      received_at: m.receivedAt.toISOString(),
      to: m.to,
      from: m.from,
      body: m.body,
    }));

  router.get('/dev/outbox.json', (_req, res) => {
    res.json({ emails: emails(), sms: sms() });
  });
  router.get('/dev/outbox/email/:index', (req, res) => {
    const mail = peers.smtp.messages[Number(req.params.index)];
    if (!mail) {
      res.status(404).send('no such message');
      return;
    }
    // Inline images (the QR code) are referenced by cid: rewrite them as data URLs to render.
    let html =
      typeof mail.parsed.html === 'string'
        ? mail.parsed.html
        : `<pre>${escapeHtml(mail.parsed.text ?? '')}</pre>`;
    for (const a of mail.parsed.attachments) {
      if (a.cid)
        html = html.replaceAll(
          `cid:${a.cid}`,
          `data:${a.contentType};base64,${a.content.toString('base64')}`,
        );
    }
    res.type('html').send(html);
  });
  router.get('/dev/outbox', (_req, res) => {
    const e = escapeHtml;
    const mailRows = emails()
      .reverse()
      .map(
        (m) =>
          `<tr><td>${e(m.received_at)}</td><td>${e(m.to.join(', '))}</td><td><a href="/dev/outbox/email/${m.index}">${e(m.subject)}</a></td></tr>`,
      )
      .join('');
    const smsRows = sms()
      .reverse()
      .map((m) => `<tr><td>${e(m.received_at)}</td><td>${e(m.to)}</td><td>${e(m.body)}</td></tr>`)
      .join('');
    res
      .type('html')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Paylinks dev outbox</title><style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%;margin-bottom:2rem}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}</style></head><body><h1>Dev outbox</h1><p>What customers would have received. <a href="/dev/outbox.json">JSON</a></p><h2>Email (${peers.smtp.messages.length})</h2><table><tr><th>received</th><th>to</th><th>subject</th></tr>${mailRows}</table><h2>SMS (${peers.twilio.messages.length})</h2><table><tr><th>received</th><th>to</th><th>body</th></tr>${smsRows}</table></body></html>`,
      );
  });
  return router;
}
