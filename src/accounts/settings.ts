/**
 * An account's own settings, beside its name and zone. `auto_refund_late_payments`: a payment that
 * reaches a link after it closed (an asynchronous method that completed late, a provider that
 * captured anyway, a second payment of a paid link) is refunded at once instead of waiting in
 * refund review for a person.
 */
import type { Db } from '../db/knex';

export interface AccountSettings {
  id: string;
  name: string;
  timezone: string;
  autoRefundLatePayments: boolean;
}

export interface AccountSettingsChange {
  autoRefundLatePayments?: boolean;
}

const COLUMNS = ['id', 'name', 'timezone', 'auto_refund_late_payments'] as const;

const fromRow = (row: {
  id: string;
  name: string;
  timezone: string;
  auto_refund_late_payments: boolean;
}): AccountSettings => ({
  id: row.id,
  name: row.name,
  timezone: row.timezone,
  autoRefundLatePayments: row.auto_refund_late_payments,
});

export async function accountSettings(db: Db, accountId: string): Promise<AccountSettings | undefined> {
  const row = await db('accounts')
    .where({ id: accountId })
    .first(...COLUMNS);
  return row && fromRow(row);
}

export async function changeAccountSettings(
  db: Db,
  accountId: string,
  change: AccountSettingsChange,
): Promise<AccountSettings | undefined> {
  if (change.autoRefundLatePayments === undefined) return accountSettings(db, accountId);
  const [row] = await db('accounts')
    .where({ id: accountId })
    .update({ auto_refund_late_payments: change.autoRefundLatePayments })
    .returning([...COLUMNS]);
  return row && fromRow(row);
}

/** Read in the transaction that records a late payment, so a change applies from its commit on. */
export async function refundsLatePayments(tx: Db, accountId: string): Promise<boolean> {
  const row = await tx('accounts').where({ id: accountId }).first('auto_refund_late_payments');
  return row?.auto_refund_late_payments === true;
}
