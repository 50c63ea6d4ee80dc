/**
 * Customers, invoices and orders: the merchant's records a link collects for. Every query is
 * scoped to an account.
 */
import type { Db } from '../db/knex';
import { newId } from '../ids';

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
  amount_paid: number;
  currency: string;
  due_date: string;
  status: 'open' | 'partially_paid' | 'paid';
  metadata: Record<string, string>;
  created_at: Date;
}

export interface OrderRow {
  id: string;
  account_id: string;
  customer_id: string | null;
  amount: number;
  currency: string;
  description: string | null;
  status: 'open' | 'paid';
  metadata: Record<string, string>;
  created_at: Date;
}

const UNIQUE_VIOLATION = '23505';

export function createCommerceStores(db: Db) {
  return {
    async createCustomer(
      accountId: string,
      c: Omit<CustomerRow, 'id' | 'account_id' | 'created_at'>,
    ): Promise<CustomerRow> {
      const [row] = await db('customers')
        .insert({ id: newId('cus'), account_id: accountId, ...c, metadata: JSON.stringify(c.metadata) })
        .returning('*');
      return row;
    },
    findCustomer(accountId: string, id: string): Promise<CustomerRow | undefined> {
      return db('customers').where({ id, account_id: accountId }).first();
    },

    /** null when the account already has an invoice with that number. */
    async createInvoice(
      accountId: string,
      i: Pick<InvoiceRow, 'number' | 'customer_id' | 'amount_due' | 'currency' | 'due_date' | 'metadata'>,
    ): Promise<InvoiceRow | null> {
      try {
        const [row] = await db('invoices')
          .insert({ id: newId('inv'), account_id: accountId, ...i, metadata: JSON.stringify(i.metadata) })
          .returning('*');
        return row;
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return null;
        throw err;
      }
    },
    findInvoice(accountId: string, id: string): Promise<InvoiceRow | undefined> {
      return db('invoices').where({ id, account_id: accountId }).first();
    },

    async createOrder(
      accountId: string,
      o: Pick<OrderRow, 'customer_id' | 'amount' | 'currency' | 'description' | 'metadata'>,
    ): Promise<OrderRow> {
      const [row] = await db('orders')
        .insert({ id: newId('ord'), account_id: accountId, ...o, metadata: JSON.stringify(o.metadata) })
        .returning('*');
      return row;
    },
    findOrder(accountId: string, id: string): Promise<OrderRow | undefined> {
      return db('orders').where({ id, account_id: accountId }).first();
    },
  };
}

export type CommerceStores = ReturnType<typeof createCommerceStores>;
