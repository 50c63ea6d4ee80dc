/**
 * The rules of an account's payment provider for the amounts of a new link, checked when the link
 * is made: a link Stripe could not charge is refused then, naming its field, rather than failing
 * when the customer presses Pay.
 */
import type { LinkTerms } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { stripeTermsProblem } from './stripe-units';

export function createProviderTermsCheck(db: Db) {
  return async (accountId: string, terms: LinkTerms) => {
    // Only the provider's name: no secret is opened to check an amount.
    const row = await db('payment_provider_settings').where({ account_id: accountId }).first('provider');
    return row?.provider === 'stripe' ? stripeTermsProblem(terms) : undefined;
  };
}
