/**
 * The page a customer opens: server-rendered, mobile-first, every merchant and customer string
 * escaped, and no more personal data than needed (the email is masked).
 */
import { DateTime } from 'luxon';
import type { LinkRow } from '../links/link-store';
import { currencyExponent } from '../money/currencies';
import { formatAmount, formatAmountForInput } from '../money/format';
import { escapeHtml as e } from '../notifications/messages';
import { payableRange } from '../payments/pay-amount';

export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}${'•'.repeat(Math.max(1, Math.min(local.length - 1, 6)))}@${domain}`;
}

const STYLE = `body{font-family:system-ui,-apple-system,sans-serif;margin:0;background:#f5f6f8;color:#1a1a1a}
main{max-width:28rem;margin:0 auto;padding:1.5rem}section{background:#fff;border-radius:.75rem;padding:1.5rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.1rem;margin:0 0 .25rem}.amount{font-size:2rem;font-weight:700;margin:.5rem 0}.muted{color:#555;font-size:.9rem}
table{width:100%;border-collapse:collapse;margin:1rem 0}td{padding:.3rem 0;border-bottom:1px solid #eee}td:last-child{text-align:right}
button{width:100%;padding:.9rem;font-size:1rem;font-weight:600;color:#fff;background:#0b5fff;border:0;border-radius:.5rem;cursor:pointer}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}
.error{color:#b00020;font-weight:600}.qr{text-align:center;margin-top:1rem}.qr img{width:9rem;height:9rem}.status{font-weight:600}`;

export function page(title: string, body: string, lang = 'en'): string {
  return `<!doctype html><html lang="${e(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** The customer's locale: amounts are shown, and typed, in its format. */
export const pageLocale = (link: Pick<LinkRow, 'customer'>): string => link.customer?.locale ?? 'en';

/** What the customer typed when the page is shown again with an error about it. */
export interface PayForm {
  amount?: string;
  error?: string;
  /** The provider's checkout does not ask itself: the page offers to save the card. */
  offerSave?: boolean;
}

export function renderLinkPage(
  link: LinkRow,
  merchantName: string,
  payPath: string,
  form: PayForm = {},
): string {
  const locale = pageLocale(link);
  const money = (minor: number) => formatAmount(minor, link.currency, locale);
  const remaining = link.amount - link.amount_paid;
  const expires = DateTime.fromJSDate(link.expires_at, { zone: link.timezone })
    .setLocale(locale)
    .toLocaleString(DateTime.DATETIME_MED);
  const items = link.line_items.length
    ? `<table>${link.line_items
        .map(
          (i) =>
            `<tr><td>${e(i.name)} × ${i.quantity}</td><td>${e(money(i.quantity * i.unitAmount))}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const who = link.customer?.email ? `<p class="muted">For ${e(maskEmail(link.customer.email))}</p>` : '';
  const header = `<h1>${e(merchantName)}</h1>${link.description ? `<p>${e(link.description)}</p>` : ''}`;

  let body: string;
  switch (link.status) {
    case 'paid':
    case 'completed':
      body = `${header}<p class="amount">${e(money(link.amount))}</p><p class="status" role="status">Paid. Thank you.</p>`;
      break;
    case 'expired':
      body = `${header}<p class="status" role="status">This payment link has expired.</p><p class="muted">Contact ${e(merchantName)} for a new one.</p>`;
      break;
    case 'cancelled':
      body = `${header}<p class="status" role="status">This payment request was cancelled. There is nothing to pay.</p>`;
      break;
    default: {
      const partial = link.status === 'partially_paid';
      const { due, minimum } = payableRange(link);
      const amountField = link.accept_partial ? partialAmountField(link, locale, due, minimum, form) : '';
      body = `${header}${items}<p class="amount">${e(money(due))}</p>${
        partial
          ? `<p class="status" role="status">Partly paid: ${e(money(link.amount_paid))} received, ${e(money(remaining))} to go.</p>`
          : ''
      }${who}<p class="muted">Pay by ${e(expires)}</p><form method="post" action="${e(payPath)}">${amountField}${
        form.offerSave
          ? '<label><input type="checkbox" name="save_payment_method" value="true" style="width:auto"> Save my card for next time</label>'
          : ''
      }<button type="submit">Pay${link.accept_partial ? '' : ` ${e(money(due))}`}</button></form><div class="qr"><img src="${e(payPath.replace(/\/pay$/, '/qr.svg'))}" alt="QR code of this payment link"></div>`;
    }
  }
  return page(`${merchantName}: payment`, `<section>${body}</section>`, locale.split('-')[0]);
}

/**
 * The amount a customer chooses, in the currency's major unit as their locale writes it (12,50
 * in French, 1250 for yen), with the range it must be in; never in minor units.
 */
function partialAmountField(link: LinkRow, locale: string, due: number, minimum: number, form: PayForm) {
  const money = (minor: number) => formatAmount(minor, link.currency, locale);
  const example = formatAmountForInput(due, link.currency, locale);
  const decimals = (currencyExponent(link.currency) ?? 2) > 0;
  const error = form.error ? `<p class="error" id="amount-error" role="alert">${e(form.error)}</p>` : '';
  return `<label for="amount">Amount to pay (${e(link.currency)})</label><p class="muted" id="amount-hint">Between ${e(money(minimum))} and ${e(money(due))}</p>${error}<input id="amount" name="amount" inputmode="${decimals ? 'decimal' : 'numeric'}" autocomplete="off" placeholder="${e(example)}" value="${e(form.amount ?? example)}" aria-describedby="amount-hint${form.error ? ' amount-error' : ''}"${form.error ? ' aria-invalid="true"' : ''}>`;
}
