/**
 * How much a customer pays now: the amount due, or, on a link that takes partial payments, the
 * amount they typed in the currency's major unit and their locale's format, within range.
 */
import type { LinkRow } from '../links/link-store';
import { currencyExponent } from '../money/currencies';
import { formatAmount, formatDecimal } from '../money/format';
import { parseTypedAmount } from '../money/parse';

/** What the amount depends on: the link's terms and what it has collected (or holds). */
export type PayableLink = Pick<
  LinkRow,
  'amount' | 'amount_paid' | 'currency' | 'max_payments' | 'accept_partial' | 'min_partial_amount'
>;

export type AmountChoice = { ok: true; amount: number } | { ok: false; message: string };

/** What one payment may be, in minor units: the whole due, or a part of it from `minimum`. */
export function payableRange(link: PayableLink): { due: number; minimum: number } {
  const remaining = link.amount - link.amount_paid;
  const due = link.max_payments === 1 ? remaining : link.amount;
  return { due, minimum: link.accept_partial ? Math.min(link.min_partial_amount ?? 1, due) : due };
}

export function amountToPay(link: PayableLink, typed: string | undefined, locale: string): AmountChoice {
  const { due, minimum } = payableRange(link);
  if (!link.accept_partial || typed === undefined || typed.trim() === '') return { ok: true, amount: due };
  const money = (minor: number) => formatAmount(minor, link.currency, locale);
  const range = `Enter an amount between ${money(minimum)} and ${money(due)}.`;
  const parsed = parseTypedAmount(typed, link.currency, locale);
  if (!parsed.ok) {
    if (parsed.reason === 'not_a_number')
      return { ok: false, message: `“${typed.slice(0, 40)}” is not an amount. ${range}` };
    if (parsed.reason === 'misgrouped') {
      // The format, shown rather than described: 12.50 or 1,250.00 (en), 12,50 or 1 250,00 (fr).
      const like = (minor: number) => formatDecimal(minor, link.currency, locale);
      return {
        ok: false,
        message: `“${typed.slice(0, 40)}” is not an amount as this page writes them: write it like ${like(1250)} or ${like(125000)}. ${range}`,
      };
    }
    const exponent = currencyExponent(link.currency) ?? 2;
    const places =
      exponent === 0 ? 'no decimal places' : `at most ${exponent} decimal place${exponent === 1 ? '' : 's'}`;
    return { ok: false, message: `Amounts in ${link.currency} have ${places}. ${range}` };
  }
  if (parsed.minor < minimum || parsed.minor > due) return { ok: false, message: range };
  return { ok: true, amount: parsed.minor };
}
