/**
 * What a merchant may send to create a campaign. The link template is made of the payment
 * link's own pieces (src/links/create-link.ts), so a campaign accepts exactly what a link does;
 * it is stored as validated (snake_case, currency upper-cased, max_payments resolved) and the
 * engine builds each recipient's link from it.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { CAMPAIGN_MODES, type CampaignStatus } from '../../workflows/campaign/contract';
import { isoDate, isoDateTime, text } from '../api/text';
import { CreatePaymentLinkSchema, clockTime, RemindersSchema } from '../links/create-link';
import { AmountSchema } from '../money/amount';
import { parsePlaceholders } from './placeholders';

/** Recipients may be added (and the campaign changed) only before it runs. */
export const EDITABLE_STATUSES: readonly CampaignStatus[] = ['draft', 'scheduled'];

/** How far ahead a campaign may be scheduled. */
export const MAX_SCHEDULE_DAYS = 365;
/** Messages or links per second a throttle may ask for; more is a typing mistake. */
export const MAX_RATE_PER_SECOND = 10_000;

/**
 * The last place on earth where a local date and time occurs is UTC−12 (Baker Island): a
 * `send_at_local` moment already past there is past in every zone.
 */
const LATEST_OFFSET = 'UTC-12';
/** And the first, UTC+14 (Kiribati): the earliest the same local moment can come anywhere. */
const EARLIEST_OFFSET = 'UTC+14';

const link = CreatePaymentLinkSchema.shape;

const LinkTemplateSchema = z.strictObject({
  amount: AmountSchema.optional(),
  currency: link.currency,
  description: text(1000).optional(),
  channels: link.channels,
  expires_in: link.expires_in,
  reminders: RemindersSchema.optional(),
  quiet_hours: z.strictObject({ start: clockTime, end: clockTime }).nullable().optional(),
  accept_partial: z.boolean().optional(),
  max_payments: link.max_payments,
});

const rate = z
  .number()
  .positive('must be greater than 0')
  .max(MAX_RATE_PER_SECOND, `must be at most ${MAX_RATE_PER_SECOND}`);

/** One of the two: a moment, or a local date and time each recipient gets it at in their zone. */
const ScheduleSchema = z
  .strictObject({
    start_at: isoDateTime().optional(),
    send_at_local: z.strictObject({ date: isoDate(), time: clockTime }).optional(),
  })
  .refine(
    (s) => (s.start_at === undefined) !== (s.send_at_local === undefined),
    'give either start_at or send_at_local',
  );

export const CreateCampaignSchema = z
  .strictObject({
    name: text(200, 1),
    mode: z.enum(CAMPAIGN_MODES).default('per_recipient'),
    link: LinkTemplateSchema,
    schedule: ScheduleSchema.nullable().optional(),
    throttle: z
      .strictObject({
        links_per_second: rate.optional(),
        email_per_second: rate.optional(),
        sms_per_second: rate.optional(),
      })
      .optional(),
  })
  .superRefine((body, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    const single = body.mode === 'single_link';
    const maxPayments = body.link.max_payments === undefined ? (single ? null : 1) : body.link.max_payments;
    if (single && body.link.amount === undefined)
      issue(['link', 'amount'], 'is required for a single_link campaign (it has no recipients to give one)');
    if (single && (body.link.channels?.length ?? 0) > 0)
      issue(
        ['link', 'channels'],
        'a single_link campaign has no recipients to send to; share its link instead',
      );
    if (body.link.accept_partial && maxPayments !== 1)
      issue(['link', 'accept_partial'], 'partial payments are only possible with max_payments 1');
    if (body.link.description !== undefined) {
      const parsed = parsePlaceholders(body.link.description);
      if (!parsed.ok) issue(['link', 'description'], parsed.reason);
      else if (single && parsed.placeholders.length > 0)
        issue(['link', 'description'], 'a single_link campaign has no recipients to fill placeholders from');
    }
  });

export type CreateCampaignBody = z.output<typeof CreateCampaignSchema>;
/**
 * A campaign's link template as stored, what every recipient's link is made from. The API stores
 * it as validated; a row written another way may carry other fields, which pass through to the
 * links unchanged, and `metadata`, which the links get beneath each recipient's own.
 */
export type LinkTemplate = z.output<typeof LinkTemplateSchema> & {
  metadata?: Record<string, string>;
  [field: string]: unknown;
};
/** The schedule as stored (resolveSchedule): a UTC moment, or a local date and time per recipient. */
export type CampaignSchedule = { start_at: string } | { send_at_local: { date: string; time: string } };
export type CampaignThrottle = NonNullable<CreateCampaignBody['throttle']>;

export class CampaignScheduleError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
    this.name = 'CampaignScheduleError';
  }
}

/**
 * The schedule as stored: `start_at` in UTC. Throws CampaignScheduleError for a moment already
 * past (everywhere on earth, for a local time) or more than MAX_SCHEDULE_DAYS ahead.
 */
export function resolveSchedule(
  schedule: CreateCampaignBody['schedule'],
  now: DateTime,
): CampaignSchedule | null {
  if (!schedule) return null;
  const latest = now.plus({ days: MAX_SCHEDULE_DAYS });
  if (schedule.start_at !== undefined) {
    const at = DateTime.fromISO(schedule.start_at, { setZone: true }).toUTC();
    if (at <= now)
      throw new CampaignScheduleError('schedule.start_at must be in the future', 'schedule.start_at');
    if (at > latest)
      throw new CampaignScheduleError(
        `schedule.start_at must be at most ${MAX_SCHEDULE_DAYS} days from now`,
        'schedule.start_at',
      );
    return { start_at: at.toISO() as string };
  }
  const { date, time } = schedule.send_at_local as { date: string; time: string };
  const local = (zone: string) => DateTime.fromISO(`${date}T${time}`, { zone });
  if (local(LATEST_OFFSET) <= now)
    throw new CampaignScheduleError(
      `schedule.send_at_local ${date} ${time} has already passed in every time zone`,
      'schedule.send_at_local',
    );
  if (local(EARLIEST_OFFSET) > latest)
    throw new CampaignScheduleError(
      `schedule.send_at_local must be at most ${MAX_SCHEDULE_DAYS} days from now`,
      'schedule.send_at_local',
    );
  return { send_at_local: { date, time } };
}

/** The template as stored: max_payments resolved (one payment per recipient, unlimited for one shared link). */
export function storedTemplate(body: CreateCampaignBody): LinkTemplate {
  const maxPayments =
    body.link.max_payments === undefined ? (body.mode === 'single_link' ? null : 1) : body.link.max_payments;
  return { ...body.link, max_payments: maxPayments };
}
