/**
 * The one boundary for text: every string a client sends that may reach Postgres or a workflow is
 * checked here, once, by the schemas the routes parse with. Postgres refuses a NUL (22021) and a
 * lone UTF-16 surrogate (jsonb: 22P05); a workflow that meets either while storing a link fails,
 * so neither may get past the edge. Ids are checked against the shape `src/ids.ts` gives them,
 * dates against the range Postgres and the product can hold.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { idPattern } from '../ids';

export const NOT_WELL_FORMED = 'must be well-formed Unicode text (no lone surrogates)';
export const HAS_NUL = 'must not contain NUL characters';

/** Text Postgres stores as given, in text and jsonb alike: well-formed Unicode without NUL. */
export const isStorableText = (s: string): boolean => s.isWellFormed() && !s.includes('\u0000');

/** Adds the storable-text checks to any string schema (plain, email, url). */
export const storable = <S extends z.ZodType<string, string>>(schema: S): S =>
  schema.refine((s) => s.isWellFormed(), NOT_WELL_FORMED).refine((s) => !s.includes('\u0000'), HAS_NUL);

/** Free text of at most `max` UTF-16 units (at least `min`, default 0). */
export const text = (max: number, min = 0) => storable(z.string().min(min).max(max));

/** The longest reference a client may give to something outside Paylinks (a campaign). */
export const MAX_REFERENCE_LENGTH = 64;

/** An http(s) URL a browser or a webhook may be sent to. */
export const httpUrl = () => storable(z.url({ protocol: /^https?$/ }).max(2048));

/** The id of a Paylinks object (`cus_…`): its prefix and alphabet, as src/ids.ts makes them. */
export const idOf = (prefix: string, what: string) =>
  z.string().regex(idPattern(prefix), `must be the id of a ${what} (${prefix}_…)`);

/**
 * The years a date or time may fall in. Postgres refuses year 0 (22008); a due date or a filter
 * before 1970 or after 9999 is a typing mistake, not a business need.
 */
export const MIN_YEAR = 1970;
export const MAX_YEAR = 9999;
const inRange = (d: DateTime) => d.isValid && d.year >= MIN_YEAR && d.year <= MAX_YEAR;
const RANGE = `must be between the years ${MIN_YEAR} and ${MAX_YEAR}`;

/** A calendar date, YYYY-MM-DD. */
export const isoDate = () => z.iso.date().refine((s) => inRange(DateTime.fromISO(s, { zone: 'utc' })), RANGE);

/** A moment with its offset, ISO 8601. */
export const isoDateTime = () =>
  z.iso
    .datetime({ offset: true })
    .refine((s) => inRange(DateTime.fromISO(s, { setZone: true }).toUTC()), RANGE);

/** Every string of a JSON value, keys included, at any depth, is storable text. */
export function isStorableJson(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).every(([k, v]) => isStorableText(k) && isStorableJson(v));
  return true;
}

/** Text from a source that must not be refused (a provider's signed event): made storable. */
export const toStorableText = (s: string): string => s.toWellFormed().replaceAll('\u0000', '\ufffd');
