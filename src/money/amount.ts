/**
 * The largest amount Paylinks accepts anywhere (a link, a line item, an invoice, an order), in
 * minor units. Processors cap a single charge (Stripe at 99,999,999.99 of most currencies, about
 * 10^10 minor units), and 10^12 stays far below 2^53, so amounts and their sums are exact as
 * JavaScript numbers and fit Postgres bigint columns.
 */
import { z } from 'zod';

export const MAX_AMOUNT = 1_000_000_000_000;

const TOO_MUCH = `must be at most ${MAX_AMOUNT} (minor units of the currency)`;

/** A positive amount in minor units, at most MAX_AMOUNT. */
export const AmountSchema = z.int().positive().max(MAX_AMOUNT, TOO_MUCH);

/** Zero or more minor units (a free line item), at most MAX_AMOUNT. */
export const UnitAmountSchema = z.int().nonnegative().max(MAX_AMOUNT, TOO_MUCH);

/**
 * quantity × unit amount, or undefined when it is above MAX_AMOUNT. Computed in BigInt: the
 * product of two safe integers may not be one, and a rounded product could slip under the cap.
 */
export function lineTotal(quantity: number, unitAmount: number): number | undefined {
  const total = BigInt(quantity) * BigInt(unitAmount);
  return total > BigInt(MAX_AMOUNT) ? undefined : Number(total);
}
