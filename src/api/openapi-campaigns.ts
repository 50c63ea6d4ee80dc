/** The campaign data endpoints' part of the OpenAPI document, from the schemas the routes validate with. */
import type { z } from 'zod';
import { DEFAULT_IMPORT_LIMITS } from '../campaigns/csv-import';
import { CampaignListQuerySchema, ImportQuerySchema } from '../campaigns/http';
import { MAX_LISTED_REJECTIONS } from '../campaigns/import';
import { PLACEHOLDER_FIELDS } from '../campaigns/placeholders';
import { RECIPIENT_COLUMNS } from '../campaigns/recipients';
import { RecipientsQuerySchema } from '../campaigns/results';
import { CreateCampaignSchema } from '../campaigns/schema';

type Json = Record<string, unknown>;

/** The document's own helpers (src/api/openapi.ts), so every path reads the same. */
export interface OpenApiHelpers {
  ok: (description: string, status?: string) => Json;
  errorResponse: (description: string) => Json;
  body: (schema: z.ZodType) => Json;
  list: (summary: string, query?: z.ZodObject) => Json;
  queryParameters: (schema: z.ZodObject) => Json[];
  idParam: (what: string) => Json;
  idempotencyKey: Json;
  keyConflict: Json;
}

const MB = DEFAULT_IMPORT_LIMITS.maxBytes / (1024 * 1024);

const RecipientJson: Json = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 200 },
    email: { type: 'string', format: 'email' },
    phone: { type: 'string', description: 'International form; stored as E.164' },
    locale: { type: 'string', description: 'BCP 47, such as fr-FR' },
    timezone: { type: 'string', description: 'IANA, such as Europe/Paris' },
    amount: {
      type: 'integer',
      minimum: 1,
      description: "Minor units; required when the campaign's link has none",
    },
    reference: { type: 'string', maxLength: 64 },
    metadata: { type: 'object', additionalProperties: { type: 'string', maxLength: 500 } },
  },
};

const IMPORT_DESCRIPTION = [
  `CSV (\`text/csv\`, UTF-8, streamed) or JSON (\`{"recipients": [...]}\`), at most ${DEFAULT_IMPORT_LIMITS.maxRows.toLocaleString('en')} recipients and ${MB} MB per request (413 beyond).`,
  `CSV columns: ${RECIPIENT_COLUMNS.join(', ')} and \`metadata.<key>\`; an unknown or repeated column, or a missing one the campaign needs (email or phone; amount when the link has none; every field the description names), is a 400 naming it.`,
  'A body that is not UTF-8 (Latin-1 bytes, UTF-16) is a 415.',
  'Each bad row is reported as `{row, column, reason}` (row 1 is the first data row) and the good rows kept — or, with `all_or_nothing=true`, nothing kept (422).',
  `At most ${MAX_LISTED_REJECTIONS} rejections are listed; \`rejected_count\` counts them all.`,
  'A recipient the campaign or the file already has (same email, case aside; same phone, as E.164; same reference) is counted in `duplicates` and skipped, so importing a file twice adds nothing.',
  'Recipients are numbered (`seq`) in import order after those already there. Allowed while the campaign is draft or scheduled (409 `campaign_not_editable` otherwise; 409 `campaign_single_link` for a single_link campaign).',
].join(' ');

const PROGRESS_DESCRIPTION = [
  'With `progress`, live from Postgres over the links whose `campaign_id` is the campaign:',
  '`links_sent` links with a message handed to a provider; `messages_*` every message of those links (sent: handed to the provider; failed: failed or undelivered), also `by_channel`;',
  '`links_paid` links fully paid; `payments_succeeded` and `amount_collected` (per currency, minor units);',
  '`conversion_rate` links_paid ÷ links_sent (null when none was sent); `median_time_to_pay_seconds` from first send to paid.',
].join(' ');

export function campaignPaths(h: OpenApiHelpers): Record<string, Json> {
  return {
    '/v1/campaigns': {
      post: {
        summary: 'Create a campaign (draft)',
        description: `The link template takes the payment link's own fields. Its description may name ${PLACEHOLDER_FIELDS.map((f) => `{${f}}`).join(', ')} and {metadata.<key>}, filled per recipient. \`schedule\` is \`{start_at}\` (a moment) or \`{send_at_local: {date, time}}\` (each recipient's own local time); in the past it is a 400. A \`throttle\` of 0 or less is a 400.`,
        parameters: [h.idempotencyKey],
        requestBody: h.body(CreateCampaignSchema),
        responses: { ...h.ok('The campaign, with its progress', '201'), '409': h.keyConflict },
      },
      get: h.list('List campaigns, newest first (without progress)', CampaignListQuerySchema),
    },
    '/v1/campaigns/{id}': {
      get: {
        summary: 'Retrieve a campaign and its progress',
        description: PROGRESS_DESCRIPTION,
        parameters: [h.idParam('campaign')],
        responses: h.ok('The campaign'),
      },
    },
    '/v1/campaigns/{id}/recipients': {
      post: {
        summary: 'Import recipients',
        description: IMPORT_DESCRIPTION,
        parameters: [h.idParam('campaign'), ...h.queryParameters(ImportQuerySchema)],
        requestBody: {
          required: true,
          content: {
            'text/csv': { schema: { type: 'string' } },
            'application/json': {
              schema: {
                type: 'object',
                required: ['recipients'],
                additionalProperties: false,
                properties: { recipients: { type: 'array', items: RecipientJson } },
              },
            },
          },
        },
        responses: {
          ...h.ok(
            '`{accepted, rejected: [{row, column, reason}], rejected_count, duplicates, recipients_count}`',
          ),
          '409': h.errorResponse('A single_link campaign, or one no longer draft or scheduled'),
          '413': h.errorResponse(
            `Over ${MB} MB or ${DEFAULT_IMPORT_LIMITS.maxRows.toLocaleString('en')} recipients`,
          ),
          '415': h.errorResponse('Not text/csv or application/json, or not UTF-8'),
          '422': h.errorResponse('all_or_nothing and some rows are bad: the body also has `rejected`'),
        },
      },
      get: {
        summary: "The campaign's recipients in import order, with their link, its status and the amount paid",
        parameters: [h.idParam('campaign'), ...h.queryParameters(RecipientsQuerySchema)],
        responses: h.ok(
          'A page: `{object: "list", data, has_more}`; the next page starts after the last `seq`',
        ),
      },
    },
    '/v1/campaigns/{id}/results.csv': {
      get: {
        summary:
          'Every recipient and what became of them, as CSV (one row per payment for a single_link campaign)',
        parameters: [h.idParam('campaign')],
        responses: {
          '200': {
            description:
              'CSV, streamed. Made safe to open in a spreadsheet: a text cell starting with =, +, -, @, tab or CR is prefixed with a single quote, except a phone in E.164 (+ and digits), which a spreadsheet can only read as a number',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
          '401': h.errorResponse('Missing or invalid API key'),
          '404': h.errorResponse('No such campaign in this account'),
        },
      },
    },
  };
}
