/**
 * Saving a card the customer chose to keep: it belongs to the link's customer, who is created
 * from the link's contact details when the link named none.
 */
import type { Db } from '../db/knex';
import { newId } from '../ids';
import type { LinkRow } from '../links/link-store';

export interface SavedMethod {
  token: string;
  brand?: string | null;
  last4?: string | null;
}

export async function savePaymentProfile(
  db: Db,
  provider: string,
  method: SavedMethod,
  link: LinkRow,
): Promise<string> {
  let customerId = link.customer_id;
  if (!customerId) {
    const email = link.customer?.email ?? null;
    const existing = email
      ? await db('customers').where({ account_id: link.account_id, email }).first('id')
      : undefined;
    customerId =
      existing?.id ??
      (
        await db('customers')
          .insert({
            id: newId('cus'),
            account_id: link.account_id,
            name: link.customer?.name ?? null,
            email,
            phone: link.customer?.phone ?? null,
            locale: link.customer?.locale ?? null,
            timezone: link.customer?.timezone ?? null,
          })
          .returning('id')
      )[0].id;
  }
  const [row] = await db('payment_profiles')
    .insert({
      id: newId('pp'),
      account_id: link.account_id,
      customer_id: customerId,
      provider,
      provider_token: method.token,
      brand: method.brand ?? null,
      last4: method.last4 ?? null,
    })
    .onConflict(['account_id', 'provider', 'provider_token'])
    .merge({ customer_id: customerId })
    .returning('id');
  return row.id;
}
