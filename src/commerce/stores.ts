/**
 * Customers, invoices and orders: the merchant's records a link collects for. Every query is
 * scoped to an account.
 */
import type { Db } from '../db/knex';

/**
 * open → partially_paid → paid by what its links collected and kept; once money went back,
 * partially_refunded (some kept) or refunded (none kept), unless what is kept still pays it.
 */
export const DOCUMENT_STATUSES = [
  'open',
  'partially_paid',
  'paid',
  'partially_refunded',
  'refunded',
] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

export interface CustomerRow {
  id: string;
  account_id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  metadata: Record<string, string>;
  created_at: Date;
}

export interface InvoiceRow {
  id: string;
  account_id: string;
  number: string;
  customer_id: string | null;
  amount_due: number;
  /** What its links collected in its currency, refunded or not. */
  amount_paid: number;
  /** What was given back of that: the invoice is owed amount_due − (amount_paid − amount_refunded). */
  amount_refunded: number;
  currency: string;
  due_date: string;
  status: DocumentStatus;
  metadata: Record<string, string>;
  created_at: Date;
}

export interface OrderRow {
  id: string;
  account_id: string;
  customer_id: string | null;
  amount: number;
  amount_paid: number;
  amount_refunded: number;
  currency: string;
  description: string | null;
  status: DocumentStatus;
  metadata: Record<string, string>;
  created_at: Date;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Each create takes its id from the caller (an Idempotency-Key's reserved id): a retry inserts
 * nothing and reads the row the first attempt made.
 */
export function createCommerceStores(db: Db) {
  async function insertOnce<Row>(table: string, accountId: string, row: Record<string, unknown>) {
    await db(table)
      .insert({ ...row, account_id: accountId })
      .onConflict('id')
      .ignore();
    const stored: Row | undefined = await db(table).where({ id: row.id, account_id: accountId }).first();
    if (!stored) throw new Error(`${table} ${String(row.id)} is taken by another account`);
    return stored;
  }

  return {
    createCustomer(
      accountId: string,
      c: Omit<CustomerRow, 'account_id' | 'created_at'>,
    ): Promise<CustomerRow> {
      return insertOnce('customers', accountId, {
        ...c,
        metadata: JSON.stringify(c.metadata),
      });
    },
    findCustomer(accountId: string, id: string): Promise<CustomerRow | undefined> {
      return db('customers').where({ id, account_id: accountId }).first();
    },

    /** null when the account already has another invoice with that number. */
    async createInvoice(
      accountId: string,
      i: Pick<
        InvoiceRow,
        'id' | 'number' | 'customer_id' | 'amount_due' | 'currency' | 'due_date' | 'metadata'
      >,
    ): Promise<InvoiceRow | null> {
      try {
        return await insertOnce<InvoiceRow>('invoices', accountId, {
          ...i,
          metadata: JSON.stringify(i.metadata),
        });
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return null;
        throw err;
      }
    },
    findInvoice(accountId: string, id: string): Promise<InvoiceRow | undefined> {
      return db('invoices').where({ id, account_id: accountId }).first();
    },

    createOrder(
      accountId: string,
      o: Pick<OrderRow, 'id' | 'customer_id' | 'amount' | 'currency' | 'description' | 'metadata'>,
    ): Promise<OrderRow> {
      return insertOnce('orders', accountId, { ...o, metadata: JSON.stringify(o.metadata) });
    },
    findOrder(accountId: string, id: string): Promise<OrderRow | undefined> {
      return db('orders').where({ id, account_id: accountId }).first();
    },
  };
}

export type CommerceStores = ReturnType<typeof createCommerceStores>;
