/**
 * The OpenAPI 3.1 document, built from the zod schemas the routes validate with: there is no
 * second copy of a request's shape to drift.
 */
import { z } from 'zod';
import { AnalyticsParamsSchema } from '../analytics/link-analytics';
import { analyticsPath } from '../analytics/openapi';
import { CampaignRunSchema, CancelCampaignSchema } from '../campaigns/http';
import { DOCUMENT_STATUSES } from '../commerce/stores';
import { CreatePaymentLinkSchema, UpdatePaymentLinkSchema } from '../links/create-link';
import { campaignPaths } from './openapi-campaigns';
import { PaginationSchema } from './pagination';
import { AccountSettingsSchema } from './routes/account';
import {
  CustomerSchema,
  DocumentLinkSchema,
  InvoiceSchema,
  OrderSchema,
  PaymentProfilesQuerySchema,
} from './routes/commerce';
import { CancelSchema, ListQuerySchema, NotifySchema, ReissueSchema } from './routes/payment-links';
import { PaymentProviderSchema } from './routes/payment-provider';
import { RefundSchema } from './routes/payments';
import { DeliveriesQuerySchema, EndpointSchema } from './routes/webhooks';

type Json = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType): Json =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const ok = (description: string, status = '200') => ({
  [status]: { description, content: { 'application/json': { schema: { type: 'object' } } } },
  '400': errorResponse('Bad input; `param` names the field'),
  '401': errorResponse('Missing or invalid API key'),
  '404': errorResponse('No such object in this account'),
  '429': {
    ...errorResponse('Rate limited: too many requests from this account (or failed keys from this address)'),
    headers: {
      'Retry-After': {
        description: 'Seconds until the limit resets',
        schema: { type: 'integer', minimum: 0 },
      },
    },
  },
});

const body = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: jsonSchema(schema) } },
});

/** A body that may be left out (the same as `{}`). */
const optionalBody = (schema: z.ZodType) => ({ ...body(schema), required: false });

/** Query parameters from an object schema, one per key. */
function queryParameters(schema: z.ZodObject): Json[] {
  const json = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}

/** Every request that creates something (or sends, or shows a secret once) takes one. */
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description:
    'Same key and body on this endpoint: the same status and body again (`Idempotent-Replayed: true`), nothing made twice. Same key, other body: 409 `idempotency_key_reused`; while the first request still runs: 409 `idempotency_key_in_use`.',
};
const keyConflict = errorResponse('Idempotency-Key used with another body, or still in progress');

const idParam = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: `The ${what}'s id; an id that cannot be one (wrong prefix, a NUL) is a 404 like an unknown one`,
});

/** `views` of a retrieved link: counted in memory by the API and stored about once a second. */
const LINK_WITH_VIEWS: Json = {
  type: 'object',
  required: ['views'],
  properties: {
    views: {
      type: 'object',
      required: ['count', 'first_viewed_at', 'last_viewed_at'],
      description:
        "The link's public page views. Counted by each API instance in memory and stored about once a second, so a view shows here within a second or two; a crashed instance may lose its last second of counts. The timeline (`/events`) keeps one `link.viewed` entry, the first view.",
      properties: {
        count: { type: 'integer', minimum: 0, description: 'Times the page was served' },
        first_viewed_at: {
          type: ['string', 'null'],
          format: 'date-time',
          description: 'UTC; null: never viewed',
        },
        last_viewed_at: {
          type: ['string', 'null'],
          format: 'date-time',
          description: 'UTC; null: never viewed',
        },
      },
    },
  },
};

const money = (description: string): Json => ({ type: 'integer', minimum: 0, description });

const DOCUMENT_STATUS: Json = {
  type: 'string',
  enum: [...DOCUMENT_STATUSES],
  description:
    '`open` → `partially_paid` → `paid` by what its links collected and kept. Once money went back: `partially_refunded` (some of it kept) or `refunded` (none kept), unless what is kept still pays the document in full (a refunded over-collection leaves it `paid`). A refund makes the difference owed again; every refund that reduces the document is announced as `invoice.refunded` / `order.refunded`.',
};

/** What an invoice's or an order's figures mean, the same for both. */
const documentFigures = (due: string): Record<string, Json> => ({
  amount_paid: money(
    `What its links collected in its currency (minor units), refunded or not; may exceed \`${due}\` when a payment was over-collected (flagged for review)`,
  ),
  amount_refunded: money('What was given back of `amount_paid` (minor units)'),
  currency: { type: 'string', description: 'ISO 4217; a link for the document must be in it' },
  status: DOCUMENT_STATUS,
});

const INVOICE: Json = {
  type: 'object',
  required: ['id', 'object', 'number', 'amount_due', 'amount_paid', 'amount_refunded', 'currency', 'status'],
  properties: {
    id: { type: 'string' },
    object: { const: 'invoice' },
    number: { type: 'string' },
    customer_id: { type: ['string', 'null'] },
    amount_due: money('What the invoice asks for (minor units)'),
    ...documentFigures('amount_due'),
    due_date: { type: 'string', format: 'date' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
  },
};

const ORDER: Json = {
  type: 'object',
  required: ['id', 'object', 'amount', 'amount_paid', 'amount_refunded', 'currency', 'status'],
  properties: {
    id: { type: 'string' },
    object: { const: 'order' },
    customer_id: { type: ['string', 'null'] },
    amount: money('What the order asks for (minor units)'),
    ...documentFigures('amount'),
    description: { type: ['string', 'null'] },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
  },
};

/** `ok()` with the answer's schema named. */
const okWith = (description: string, schema: string, status = '200') => ({
  ...ok(description, status),
  [status]: {
    description,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  },
});

export function buildOpenApiDocument(serverUrl: string): Json {
  const list = (summary: string, query: z.ZodObject = PaginationSchema) => ({
    summary,
    parameters: queryParameters(query),
    responses: ok('A page: `{object: "list", data, has_more}`'),
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Paylinks API',
      version: '1.0.0',
      description:
        'Payment links: create, send, remind, collect. Amounts are integers in the currency\'s minor unit, at most 10^12. Errors have one shape: `{"error": {"type", "code", "message", "param"}}`.',
    },
    servers: [{ url: serverUrl }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `paylinks accounts create`' },
      },
      schemas: {
        Invoice: INVOICE,
        Order: ORDER,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['type', 'code', 'message'],
              properties: {
                type: { type: 'string' },
                code: { type: 'string' },
                message: { type: 'string' },
                param: { type: 'string' },
              },
            },
          },
        },
      },
    },
    paths: {
      '/v1/payment_links': {
        post: {
          summary: 'Create a payment link',
          description:
            "With `invoice_id` or `order_id` the link collects for that document: it must be one of the account's own, in its currency, single-use (`max_payments` 1) and ask at most its open balance (`amount_due` − (`amount_paid` − `amount_refunded`)), else a 400 naming `invoice_id`/`order_id`, `currency`, `max_payments` or `amount`. On an account paid through Stripe, an amount Stripe cannot charge in its own units (a fraction of an MGA, a last digit other than 0 in KWD…) or a currency it does not support is a 400 naming `amount`, `line_items.<i>.unit_amount`, `min_partial_amount` or `currency` (docs/STRIPE-UNITS.md).",
          parameters: [idempotencyKey],
          requestBody: body(CreatePaymentLinkSchema),
          responses: {
            ...ok('The link', '201'),
            '409': errorResponse('Reference or idempotency key already used'),
          },
        },
        get: list('List payment links, newest first', ListQuerySchema),
      },
      '/v1/payment_links/{id}': {
        get: {
          summary: 'Retrieve a payment link',
          parameters: [idParam('link')],
          responses: {
            ...ok('The link'),
            '200': {
              description: 'The link, with how often its public page was viewed',
              content: { 'application/json': { schema: LINK_WITH_VIEWS } },
            },
          },
        },
        post: {
          summary: 'Update an open payment link',
          description:
            'With an Idempotency-Key, a retry whose first attempt changed the link answers that change again (never "expires_at must be later" for its own extension).',
          parameters: [idParam('link'), idempotencyKey],
          requestBody: body(UpdatePaymentLinkSchema),
          responses: {
            ...ok('The link'),
            '409': errorResponse('The link is closed, or the Idempotency-Key is used'),
          },
        },
      },
      '/v1/payment_links/{id}/cancel': {
        post: {
          summary: 'Cancel a payment link',
          description:
            'Safe to retry: the same request again (same reason and notice, or the same Idempotency-Key) after the link was cancelled by it answers 200 with the cancelled link. Another cancel of a closed link is a 409.',
          parameters: [idParam('link'), idempotencyKey],
          requestBody: body(CancelSchema),
          responses: {
            ...ok('The cancelled link'),
            '409': errorResponse('Already closed (by another request), or the Idempotency-Key is used'),
          },
        },
      },
      '/v1/payment_links/{id}/reissue': {
        post: {
          summary: 'Reissue an expired or cancelled link',
          description:
            'A link is reissued once: asked again (or concurrently), the answer is the replacement already made (200), whatever its status since; reissue that one to make the next.',
          parameters: [idParam('link'), idempotencyKey],
          requestBody: body(ReissueSchema),
          responses: {
            ...ok('The new link', '201'),
            ...ok('The replacement made by an earlier reissue of this link'),
            '409': errorResponse('The link is still open, or the Idempotency-Key is used'),
          },
        },
      },
      '/v1/payment_links/{id}/notify': {
        post: {
          summary: 'Send the link again now',
          parameters: [idParam('link'), idempotencyKey],
          requestBody: body(NotifySchema),
          responses: {
            ...ok('The link'),
            '409': errorResponse('The link is closed, or the Idempotency-Key is used'),
            '422': errorResponse('The customer cannot be reached on that channel'),
          },
        },
      },
      '/v1/payment_links/{id}/events': {
        get: {
          summary: "The link's timeline, oldest first",
          parameters: [idParam('link')],
          responses: ok('A list'),
        },
      },
      '/v1/payment_links/{id}/payments': {
        get: {
          summary: 'Payments received through the link',
          parameters: [idParam('link')],
          responses: ok('A list'),
        },
      },
      '/v1/customers': {
        post: {
          summary: 'Create a customer',
          parameters: [idempotencyKey],
          requestBody: body(CustomerSchema),
          responses: { ...ok('The customer', '201'), '409': keyConflict },
        },
        get: list('List customers'),
      },
      '/v1/customers/{id}': {
        get: {
          summary: 'Retrieve a customer',
          parameters: [idParam('customer')],
          responses: ok('The customer'),
        },
      },
      '/v1/invoices': {
        post: {
          summary: 'Create an invoice',
          parameters: [idempotencyKey],
          requestBody: body(InvoiceSchema),
          responses: { ...okWith('The invoice', 'Invoice', '201'), '409': keyConflict },
        },
        get: list('List invoices'),
      },
      '/v1/invoices/{id}': {
        get: {
          summary: 'Retrieve an invoice',
          parameters: [idParam('invoice')],
          responses: okWith('The invoice', 'Invoice'),
        },
      },
      '/v1/invoices/{id}/payment_link': {
        post: {
          summary: "A link for the invoice's open amount, reminding around its due date",
          parameters: [idParam('invoice'), idempotencyKey],
          requestBody: body(DocumentLinkSchema),
          responses: { ...ok('The link', '201'), '409': keyConflict },
        },
      },
      '/v1/orders': {
        post: {
          summary: 'Create an order',
          parameters: [idempotencyKey],
          requestBody: body(OrderSchema),
          responses: { ...okWith('The order', 'Order', '201'), '409': keyConflict },
        },
        get: list('List orders'),
      },
      '/v1/orders/{id}': {
        get: {
          summary: 'Retrieve an order',
          parameters: [idParam('order')],
          responses: okWith('The order', 'Order'),
        },
      },
      '/v1/orders/{id}/payment_link': {
        post: {
          summary: 'A link for the order',
          parameters: [idParam('order'), idempotencyKey],
          requestBody: body(DocumentLinkSchema),
          responses: {
            ...ok('The link', '201'),
            '409': errorResponse('The order has an open link, or the Idempotency-Key is used'),
          },
        },
      },
      '/v1/payment_profiles': {
        get: list('Saved payment methods of a customer', PaymentProfilesQuerySchema),
      },
      '/v1/webhook_endpoint': {
        put: {
          summary: "Set the account's webhook URL; answers its signing secret, once",
          parameters: [idempotencyKey],
          requestBody: body(EndpointSchema),
          responses: { ...ok('The endpoint and its secret'), '409': keyConflict },
        },
        get: { summary: "The account's webhook URL", responses: ok('The endpoint') },
        delete: { summary: 'Stop webhooks', responses: { '204': { description: 'Removed' } } },
      },
      '/v1/payment_provider': {
        put: {
          summary:
            "Choose the account's payment provider: the sandbox, or Stripe with its secret key and webhook signing secret (never returned)",
          requestBody: body(PaymentProviderSchema),
          responses: ok('The provider, prefixes of its secrets, and the webhook URL to register at Stripe'),
        },
        get: { summary: "The account's payment provider", responses: ok('The provider') },
      },
      '/v1/account': {
        get: { summary: 'The account and its settings', responses: ok('The account') },
        patch: {
          summary:
            "Change the account's settings: auto_refund_late_payments refunds a payment that reaches a link after it closed, instead of leaving it for refund review",
          requestBody: body(AccountSettingsSchema),
          responses: {
            ...ok('The account'),
            '400': errorResponse('A setting of the wrong type; `param` names it'),
          },
        },
      },
      '/v1/payments/{id}': {
        get: {
          summary: 'A payment, with what was refunded of it',
          parameters: [idParam('payment')],
          responses: { ...ok('The payment'), '404': errorResponse('No such payment') },
        },
      },
      '/v1/payments/{id}/refund': {
        post: {
          summary: 'Refund a payment, in full or in part, through the provider that took it',
          parameters: [idParam('payment'), idempotencyKey],
          requestBody: body(RefundSchema),
          responses: {
            ...ok('The refund'),
            '409': errorResponse('Beyond the amount paid, or the Idempotency-Key is used'),
            '422': errorResponse('The provider refused the refund'),
          },
        },
      },
      '/v1/webhook_deliveries': {
        get: list(
          'Every webhook delivery attempt (status code, duration, an error class such as http_500, timeout or refused_address; never the response body), newest first',
          DeliveriesQuerySchema,
        ),
      },
      '/v1/campaigns/{id}/start': {
        post: {
          summary:
            'Start a draft campaign: send times are set per recipient (their local time, out of quiet hours) and links go out at the throttle',
          parameters: [idParam('campaign')],
          requestBody: optionalBody(CampaignRunSchema),
          responses: {
            ...ok('The campaign, scheduled or running'),
            '409': errorResponse('Not a draft, or no recipients'),
          },
        },
      },
      '/v1/campaigns/{id}/pause': {
        post: {
          summary:
            'Pause a campaign: no link is made until it resumes (answers once the sending has stopped)',
          parameters: [idParam('campaign')],
          requestBody: optionalBody(CampaignRunSchema),
          responses: {
            ...ok('The paused campaign'),
            '409': errorResponse('Not started, finished, or single-link'),
          },
        },
      },
      '/v1/campaigns/{id}/resume': {
        post: {
          summary: 'Resume a paused campaign',
          parameters: [idParam('campaign')],
          requestBody: optionalBody(CampaignRunSchema),
          responses: {
            ...ok('The campaign, scheduled or running'),
            '409': errorResponse('Not started, or finished'),
          },
        },
      },
      '/v1/campaigns/{id}/cancel': {
        post: {
          summary:
            'Cancel a campaign: nothing more is sent; with cancel_links the links already sent are cancelled too',
          parameters: [idParam('campaign')],
          requestBody: optionalBody(CancelCampaignSchema),
          responses: { ...ok('The cancelled campaign'), '409': errorResponse('Already completed') },
        },
      },
      ...campaignPaths({
        ok,
        errorResponse,
        body,
        list,
        queryParameters,
        idParam,
        idempotencyKey,
        keyConflict,
      }),
      '/v1/analytics/payment_links': analyticsPath(queryParameters(AnalyticsParamsSchema), {
        '400': errorResponse('Bad `from`, `to` or `group_by`; `param` names it'),
        '401': errorResponse('Missing or invalid API key'),
        '429': errorResponse('Rate limited'),
      }),
    },
  };
}
