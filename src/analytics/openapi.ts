/** The analytics endpoint's part of the OpenAPI document: every figure defined where clients read it. */
type Json = Record<string, unknown>;

const count = (description: string) => ({ type: 'integer', minimum: 0, description });
const rate = (description: string) => ({
  type: ['number', 'null'],
  minimum: 0,
  description: `${description}; null when the denominator is 0`,
});

export const ANALYTICS_DESCRIPTION = [
  'Figures of the links **created** in `[from, to)` (UTC days), one element per group, each link',
  'counted in the group of its creation with everything that happened to it since (a cohort, so',
  'that paid ÷ created is about the same links). Day and week groups are UTC days and ISO weeks',
  '(Monday to Sunday, UTC); groups without links are left out. The figures are kept up to date',
  'in the same transaction as the timeline entries they come from (`GET /v1/payment_links/{id}/events`).',
].join(' ');

const FigureSchema: Json = {
  type: 'object',
  required: [
    'key',
    'links_created',
    'links_sent',
    'links_delivered',
    'links_viewed',
    'sessions_started',
    'payments_succeeded',
    'payments_failed',
    'links_paid',
    'links_expired',
    'links_cancelled',
    'completion_rate',
    'conversion_rate',
    'payment_success_rate',
    'median_seconds_to_pay',
    'p90_seconds_to_pay',
    'amount_collected',
  ],
  properties: {
    key: {
      type: ['string', 'null'],
      description:
        "day: `YYYY-MM-DD` (UTC); week: the Monday that starts the ISO week, `YYYY-MM-DD`; channel: `email` or `sms` (null: links created without a channel), a link with two channels counted under each; campaign: the links' `campaign_id` (null: none); currency: ISO 4217 code.",
    },
    links_created: count('Links created in the range, in this group'),
    links_sent: count(
      'Of those, links whose link message a provider accepted (`payment_link.sent`; reminders do not count). group_by=channel: on that channel',
    ),
    links_delivered: count(
      'Links whose link or reminder message the provider reported delivered (`notification.delivered`). Only SMS (twilio) reports delivery; email has no delivery receipts, so email never counts here. group_by=channel: on that channel',
    ),
    links_viewed: count(
      'Links whose public page was opened at least once (`link.viewed`), each link once however many views',
    ),
    sessions_started: count(
      'Payment sessions opened on those links: the customer pressed Pay (`payment_session.started`); pressing Pay again on an open session starts none',
    ),
    payments_succeeded: count(
      'Payments taken on those links (`payment.succeeded`, and `payment.flagged`: taken, but flagged for review)',
    ),
    payments_failed: count(
      'Checkouts the provider declined or failed (`payment_session.failed`) and payments the link refused (`payment.rejected`, e.g. after it closed)',
    ),
    links_paid: count('Links that reached `paid` (multi-use links: `completed`)'),
    links_expired: count('Links that reached `expired`'),
    links_cancelled: count('Links that reached `cancelled`'),
    completion_rate: rate('links_paid ÷ links_created'),
    conversion_rate: rate(
      'links_paid ÷ links_viewed (a link paid without its page being viewed, e.g. a payment reported directly, can take it above 1)',
    ),
    payment_success_rate: rate('payments_succeeded ÷ sessions_started'),
    median_seconds_to_pay: {
      type: ['number', 'null'],
      description:
        "Median, over the group's paid links that were sent, of the seconds from the first `payment_link.sent` to `payment_link.paid` (linear interpolation between closest ranks), to the millisecond; null when no link qualifies",
    },
    p90_seconds_to_pay: {
      type: ['number', 'null'],
      description: '90th percentile of the same, by the same rule',
    },
    amount_collected: {
      type: 'object',
      additionalProperties: { type: 'integer' },
      description:
        'Per currency (ISO 4217), the sum of the payments taken (`payments_succeeded`), in minor units, before refunds; currencies with nothing taken are absent',
    },
  },
};

export function analyticsPath(parameters: Json[], responses: Json): Json {
  return {
    get: {
      summary: 'Payment-link analytics: volumes, rates, time to pay, amounts, grouped',
      description: ANALYTICS_DESCRIPTION,
      parameters,
      responses: {
        ...responses,
        '200': {
          description: '`{object: "list", data: [figures…]}`, ordered by key (null last)',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['object', 'data'],
                properties: { object: { const: 'list' }, data: { type: 'array', items: FigureSchema } },
              },
            },
          },
        },
      },
    },
  };
}
