/**
 * What the customer reads: one template per message type, an HTML and a plain-text part for
 * email and a short body for SMS, in the customer's language (English and French, English as
 * the fallback), amounts and dates in their locale and time zone.
 */
import { DateTime } from 'luxon';
import { formatAmount } from '../money/format';

export const MESSAGE_TYPES = ['link', 'reminder', 'receipt', 'cancelled', 'expired'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface MessageContext {
  merchantName: string;
  customerName: string | null;
  amount: number;
  /** What is still to pay (differs from amount once partially paid). */
  amountDue: number;
  currency: string;
  description: string | null;
  url: string;
  expiresAt: string;
  timezone: string;
  /** BCP 47; the customer's, else the merchant's default. */
  locale: string;
  /** Content-ID of the inline QR code image, for HTML mail. */
  qrCid?: string;
  /** One-click unsubscribe page, on reminders only. */
  unsubscribeUrl?: string;
}

export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
  sms: string;
}

interface Strings {
  greeting: (name: string | null) => string;
  subject: Record<MessageType, (merchant: string, amount: string) => string>;
  intro: Record<MessageType, (merchant: string, amount: string) => string>;
  payButton: string;
  expires: (when: string) => string;
  scan: string;
  unsubscribe: string;
  sms: Record<MessageType, (merchant: string, amount: string, url: string) => string>;
}

const en: Strings = {
  greeting: (name) => (name ? `Hello ${name},` : 'Hello,'),
  subject: {
    link: (m, a) => `${m} requests a payment of ${a}`,
    reminder: (m, a) => `Reminder: ${a} due to ${m}`,
    receipt: (m, a) => `Receipt: ${a} paid to ${m}`,
    cancelled: (m) => `${m} cancelled a payment request`,
    expired: (m) => `A payment request from ${m} has expired`,
  },
  intro: {
    link: (m, a) => `${m} has sent you a request to pay ${a}.`,
    reminder: (m, a) => `This is a reminder that ${a} is still due to ${m}.`,
    receipt: (m, a) => `Thank you: ${m} received your payment of ${a}.`,
    cancelled: (m) => `${m} has cancelled this payment request. You do not need to pay it.`,
    expired: (m) => `This payment request from ${m} has expired. Contact them if you still wish to pay.`,
  },
  payButton: 'Pay now',
  expires: (when) => `This link expires on ${when}.`,
  scan: 'Or scan this code with your phone:',
  unsubscribe: 'Stop these reminders',
  sms: {
    link: (m, a, u) => `${m}: please pay ${a} at ${u}`,
    reminder: (m, a, u) => `Reminder from ${m}: ${a} due. Pay at ${u}`,
    receipt: (m, a) => `${m}: payment of ${a} received. Thank you!`,
    cancelled: (m) => `${m}: your payment request was cancelled. Nothing to pay.`,
    expired: (m) => `${m}: your payment request has expired.`,
  },
};

const fr: Strings = {
  greeting: (name) => (name ? `Bonjour ${name},` : 'Bonjour,'),
  subject: {
    link: (m, a) => `${m} vous demande un paiement de ${a}`,
    reminder: (m, a) => `Rappel : ${a} à régler à ${m}`,
    receipt: (m, a) => `Reçu : ${a} payé à ${m}`,
    cancelled: (m) => `${m} a annulé une demande de paiement`,
    expired: (m) => `Une demande de paiement de ${m} a expiré`,
  },
  intro: {
    link: (m, a) => `${m} vous a envoyé une demande de paiement de ${a}.`,
    reminder: (m, a) => `Petit rappel : ${a} reste à régler à ${m}.`,
    receipt: (m, a) => `Merci : ${m} a bien reçu votre paiement de ${a}.`,
    cancelled: (m) => `${m} a annulé cette demande de paiement. Vous n'avez rien à payer.`,
    expired: (m) =>
      `Cette demande de paiement de ${m} a expiré. Contactez-les si vous souhaitez toujours payer.`,
  },
  payButton: 'Payer maintenant',
  expires: (when) => `Ce lien expire le ${when}.`,
  scan: 'Ou scannez ce code avec votre téléphone :',
  unsubscribe: 'Ne plus recevoir ces rappels',
  sms: {
    link: (m, a, u) => `${m} : merci de régler ${a} sur ${u}`,
    reminder: (m, a, u) => `Rappel ${m} : ${a} à régler sur ${u}`,
    receipt: (m, a) => `${m} : paiement de ${a} reçu. Merci !`,
    cancelled: (m) => `${m} : demande de paiement annulée. Rien à payer.`,
    expired: (m) => `${m} : votre demande de paiement a expiré.`,
  },
};

const CATALOGUES: Record<string, Strings> = { en, fr };

/** The catalogue for a locale: its language, else English. */
export function stringsFor(locale: string): { language: string; strings: Strings } {
  const language = locale.split('-')[0]?.toLowerCase() ?? 'en';
  return CATALOGUES[language] ? { language, strings: CATALOGUES[language] } : { language: 'en', strings: en };
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const OPEN_TYPES: readonly MessageType[] = ['link', 'reminder'];

export function renderMessage(type: MessageType, ctx: MessageContext): RenderedMessage {
  const { language, strings } = stringsFor(ctx.locale);
  const shown = formatAmount(type === 'reminder' ? ctx.amountDue : ctx.amount, ctx.currency, ctx.locale);
  const expiry = DateTime.fromISO(ctx.expiresAt, { zone: ctx.timezone })
    .setLocale(ctx.locale)
    .toLocaleString(DateTime.DATETIME_FULL);
  const open = OPEN_TYPES.includes(type);
  const m = ctx.merchantName;

  const textLines = [strings.greeting(ctx.customerName), '', strings.intro[type](m, shown)];
  if (ctx.description) textLines.push('', ctx.description);
  if (open) textLines.push('', `${strings.payButton}: ${ctx.url}`, strings.expires(expiry));
  if (ctx.unsubscribeUrl) textLines.push('', `${strings.unsubscribe}: ${ctx.unsubscribeUrl}`);

  const e = escapeHtml;
  const html = [
    `<!doctype html><html lang="${e(language)}"><head><meta charset="utf-8">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(strings.subject[type](m, shown))}</title></head>`,
    '<body style="font-family: system-ui, sans-serif; color: #1a1a1a; max-width: 36rem; margin: 0 auto; padding: 1.5rem;">',
    `<p>${e(strings.greeting(ctx.customerName))}</p>`,
    `<p>${e(strings.intro[type](m, shown))}</p>`,
    ctx.description ? `<p style="color:#555">${e(ctx.description)}</p>` : '',
    open
      ? `<p><a href="${e(ctx.url)}" style="display:inline-block;background:#0b5fff;color:#fff;padding:.75rem 1.5rem;border-radius:.375rem;text-decoration:none;font-weight:600">${e(strings.payButton)} · ${e(shown)}</a></p>` +
        `<p style="color:#555">${e(strings.expires(expiry))}</p>`
      : '',
    open && ctx.qrCid
      ? `<p>${e(strings.scan)}</p><p><img src="cid:${e(ctx.qrCid)}" alt="QR code" width="160" height="160"></p>`
      : '',
    ctx.unsubscribeUrl
      ? `<p style="font-size:.8rem;color:#777"><a href="${e(ctx.unsubscribeUrl)}">${e(strings.unsubscribe)}</a></p>`
      : '',
    '</body></html>',
  ].join('');

  return {
    subject: strings.subject[type](m, shown),
    text: textLines.join('\n'),
    html,
    sms: strings.sms[type](m, shown, ctx.url),
  };
}
