import { Router } from 'express';
import { z } from 'zod';
import { CHANNELS } from '../../../workflows/payment-link/contract';
import type { DocumentLinkOptions, DocumentLinks } from '../../commerce/document-links';
import { serializeInvoice, serializeOrder } from '../../commerce/serialize';
import type { CommerceStores, CustomerRow } from '../../commerce/stores';
import type { Db } from '../../db/knex';
import { ID_PREFIX } from '../../ids';
import { clockTime, CustomerSchema as LinkCustomerSchema, MetadataSchema } from '../../links/create-link';
import { serializeLink } from '../../links/serialize';
import { AmountSchema } from '../../money/amount';
import { isPayableCurrency } from '../../money/currencies';
import { accountOf } from '../auth';
import { ApiError } from '../errors';
import { withIdempotency } from '../idempotency';
import { PaginationSchema, paginate } from '../pagination';
import { httpUrl, idOf, isoDate, isoDateTime, text } from '../text';
import { parseBody, parseQuery, pathId } from '../validation';

export interface CommerceRoutesDeps {
  db: Db;
  commerce: CommerceStores;
  documentLinks: DocumentLinks;
  publicBaseUrl: string;
}

const metadata = MetadataSchema.optional();
const currency = z
  .string()
  .max(3)
  .transform((c) => c.toUpperCase())
  .refine(isPayableCurrency, 'must be an ISO 4217 currency code such as "USD"');

/** A stored customer: the same contact fields a link's inline customer has, plus metadata. */
export const CustomerSchema = LinkCustomerSchema.extend({ metadata: MetadataSchema.optional() });

const customerId = idOf(ID_PREFIX.customer, 'customer');

export const InvoiceSchema = z.strictObject({
  number: text(64, 1),
  customer_id: customerId.optional(),
  amount_due: AmountSchema,
  currency,
  due_date: isoDate(),
  metadata,
});

export const OrderSchema = z.strictObject({
  customer_id: customerId.optional(),
  amount: AmountSchema,
  currency,
  description: text(1000).optional(),
  metadata,
});

/** What a merchant may choose for a link made from a document; the rest comes from the document. */
export const PaymentProfilesQuerySchema = PaginationSchema.extend({ customer_id: customerId }).strict();

export const DocumentLinkSchema = z.strictObject({
  channels: z.array(z.enum(CHANNELS)).optional(),
  expires_at: isoDateTime().optional(),
  quiet_hours: z.strictObject({ start: clockTime, end: clockTime }).nullable().optional(),
  success_url: httpUrl().optional(),
});

const documentLinkOptions = (b: z.infer<typeof DocumentLinkSchema>): DocumentLinkOptions => ({
  ...(b.channels ? { channels: b.channels } : {}),
  ...(b.expires_at ? { expiresAt: b.expires_at } : {}),
  ...(b.quiet_hours !== undefined ? { quietHours: b.quiet_hours } : {}),
  ...(b.success_url ? { successUrl: b.success_url } : {}),
});

const iso = (d: Date) => d.toISOString();
const serializeCustomer = (c: CustomerRow) => ({
  id: c.id,
  object: 'customer' as const,
  name: c.name,
  email: c.email,
  phone: c.phone,
  locale: c.locale,
  timezone: c.timezone,
  metadata: c.metadata,
  created_at: iso(c.created_at),
});
export function commerceRoutes({ db, commerce, documentLinks, publicBaseUrl }: CommerceRoutesDeps): Router {
  const router = Router();
  const list = (table: 'customers' | 'invoices' | 'orders', serialize: (row: never) => unknown) =>
    router.get(`/${table}`, async (req, res) => {
      const q = parseQuery(PaginationSchema.strict(), req.query);
      const { rows, hasMore } = await paginate(db, table, accountOf(req).id, q);
      res.json({ object: 'list', data: rows.map((r) => serialize(r as never)), has_more: hasMore });
    });
  const requireCustomer = async (accountId: string, customerId: string | undefined) => {
    if (customerId && !(await commerce.findCustomer(accountId, customerId))) {
      throw ApiError.invalid(`No such customer: '${customerId}'`, 'customer_id');
    }
  };

  router.post(
    '/customers',
    withIdempotency(
      db,
      async (req, id) => {
        const b = parseBody(CustomerSchema, req.body);
        const row = await commerce.createCustomer(accountOf(req).id, {
          id,
          name: b.name ?? null,
          email: b.email ?? null,
          phone: b.phone ?? null,
          locale: b.locale ?? null,
          timezone: b.timezone ?? null,
          metadata: b.metadata ?? {},
        });
        return { status: 201, body: serializeCustomer(row) };
      },
      { reserve: 'cus' },
    ),
  );
  const customerPath = pathId(ID_PREFIX.customer, 'customer');
  const invoicePath = pathId(ID_PREFIX.invoice, 'invoice');
  const orderPath = pathId(ID_PREFIX.order, 'order');
  router.get('/customers/:id', customerPath, async (req, res) => {
    const row = await commerce.findCustomer(accountOf(req).id, req.params.id);
    if (!row) throw ApiError.notFound('customer', req.params.id);
    res.json(serializeCustomer(row));
  });
  list('customers', serializeCustomer);

  router.post(
    '/invoices',
    withIdempotency(
      db,
      async (req, id) => {
        const b = parseBody(InvoiceSchema, req.body);
        const accountId = accountOf(req).id;
        await requireCustomer(accountId, b.customer_id);
        const row = await commerce.createInvoice(accountId, {
          id,
          number: b.number,
          customer_id: b.customer_id ?? null,
          amount_due: b.amount_due,
          currency: b.currency,
          due_date: b.due_date,
          metadata: b.metadata ?? {},
        });
        if (!row)
          throw ApiError.conflict(
            `An invoice numbered '${b.number}' already exists`,
            'invoice_number_taken',
            'number',
          );
        return { status: 201, body: serializeInvoice(row) };
      },
      { reserve: 'inv' },
    ),
  );
  router.get('/invoices/:id', invoicePath, async (req, res) => {
    const row = await commerce.findInvoice(accountOf(req).id, req.params.id);
    if (!row) throw ApiError.notFound('invoice', req.params.id);
    res.json(serializeInvoice(row));
  });
  list('invoices', serializeInvoice);

  router.post(
    '/invoices/:id/payment_link',
    invoicePath,
    withIdempotency<{ id: string }>(
      db,
      async (req, linkId) => {
        const options = documentLinkOptions(parseBody(DocumentLinkSchema, req.body ?? {}));
        const link = await documentLinks.forInvoice(accountOf(req), req.params.id, options, { linkId });
        return { status: 201, body: serializeLink(link, publicBaseUrl) };
      },
      { reserve: 'plink' },
    ),
  );

  router.post(
    '/orders',
    withIdempotency(
      db,
      async (req, id) => {
        const b = parseBody(OrderSchema, req.body);
        const accountId = accountOf(req).id;
        await requireCustomer(accountId, b.customer_id);
        const row = await commerce.createOrder(accountId, {
          id,
          customer_id: b.customer_id ?? null,
          amount: b.amount,
          currency: b.currency,
          description: b.description ?? null,
          metadata: b.metadata ?? {},
        });
        return { status: 201, body: serializeOrder(row) };
      },
      { reserve: 'ord' },
    ),
  );
  router.get('/orders/:id', orderPath, async (req, res) => {
    const row = await commerce.findOrder(accountOf(req).id, req.params.id);
    if (!row) throw ApiError.notFound('order', req.params.id);
    res.json(serializeOrder(row));
  });
  list('orders', serializeOrder);

  router.post(
    '/orders/:id/payment_link',
    orderPath,
    withIdempotency<{ id: string }>(
      db,
      async (req, linkId) => {
        const options = documentLinkOptions(parseBody(DocumentLinkSchema, req.body ?? {}));
        const link = await documentLinks.forOrder(accountOf(req), req.params.id, options, { linkId });
        return { status: 201, body: serializeLink(link, publicBaseUrl) };
      },
      { reserve: 'plink' },
    ),
  );

  router.get('/payment_profiles', async (req, res) => {
    const q = parseQuery(PaymentProfilesQuerySchema, req.query);
    const { rows, hasMore } = await paginate<{
      id: string;
      created_at: Date;
      customer_id: string;
      provider: string;
      brand: string | null;
      last4: string | null;
    }>(db, 'payment_profiles', accountOf(req).id, q, (query) =>
      query.where('payment_profiles.customer_id', q.customer_id),
    );
    res.json({
      object: 'list',
      data: rows.map((p) => ({
        id: p.id,
        object: 'payment_profile',
        customer_id: p.customer_id,
        provider: p.provider,
        brand: p.brand,
        last4: p.last4,
        created_at: iso(p.created_at),
      })),
      has_more: hasMore,
    });
  });

  return router;
}
