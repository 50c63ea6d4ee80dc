/**
 * One recipient row, from a CSV line or a JSON object, checked with the payment link's own
 * customer pieces, and the rules a whole import follows: which columns exist, which a campaign
 * needs, and when two rows are the same person (same email, case-insensitive; same phone, as
 * E.164; same reference).
 */
import type { z } from 'zod';
import { ApiError } from '../api/errors';
import { MAX_REFERENCE_LENGTH, text } from '../api/text';
import { CustomerSchema } from '../links/create-link';
import { AmountSchema } from '../money/amount';
import { columnOf, type Placeholder, parsePlaceholders, renderDescription } from './placeholders';
import type { LinkTemplate } from './schema';

export const RECIPIENT_COLUMNS = [
  'name',
  'email',
  'phone',
  'locale',
  'timezone',
  'amount',
  'reference',
] as const;
type Column = (typeof RECIPIENT_COLUMNS)[number];
const METADATA_PREFIX = 'metadata.';
const MAX_METADATA_KEYS = 50;
const MAX_DESCRIPTION = 1000;

export interface Recipient {
  name: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  amount: number | null;
  reference: string | null;
  metadata: Record<string, string>;
}

export interface RowRejection {
  /** 1 for the first data row (the CSV header is not counted). */
  row: number;
  /** The column at fault; null when the row as a whole is (a wrong number of fields). */
  column: string | null;
  reason: string;
}

/** A row's values by column (`metadata.<key>` for metadata); absent or empty: not given. */
export type Cells = Map<string, string | number>;

const customer = CustomerSchema.shape;
const FIELD: Record<Exclude<Column, 'amount'>, z.ZodType<string | undefined>> = {
  name: customer.name,
  email: customer.email,
  phone: customer.phone,
  locale: customer.locale,
  timezone: customer.timezone,
  reference: text(MAX_REFERENCE_LENGTH, 1).optional(),
};
const metadataKey = text(40, 1);
const metadataValue = text(500);

/** What a campaign's link template asks of every recipient. */
export class ImportRules {
  readonly placeholders: Placeholder[];
  readonly needsAmount: boolean;

  constructor(readonly template: LinkTemplate) {
    const parsed = parsePlaceholders(template.description ?? '');
    this.placeholders = parsed.ok ? parsed.placeholders : [];
    this.needsAmount = template.amount === undefined;
  }

  /**
   * A CSV header: every column known, none twice, and the columns the campaign needs present.
   * Returns the column names as the rows are read (known names lower-cased, metadata keys kept).
   */
  header(raw: string[]): string[] {
    const seen = new Set<string>();
    const columns = raw.map((cell, i) => {
      const name = cell.trim();
      const lower = name.toLowerCase();
      let column: string;
      if ((RECIPIENT_COLUMNS as readonly string[]).includes(lower)) column = lower;
      else if (lower.startsWith(METADATA_PREFIX)) {
        const key = name.slice(METADATA_PREFIX.length);
        if (!metadataKey.safeParse(key).success)
          throw columnError(name, `Column "${name}": a metadata key is 1 to 40 characters`, 'column_invalid');
        column = `${METADATA_PREFIX}${key}`;
      } else {
        const label = name === '' ? `number ${i + 1} (no name)` : `"${name}"`;
        throw columnError(
          name,
          `Unknown column ${label}: the columns are ${RECIPIENT_COLUMNS.join(', ')} and metadata.<key>`,
          'column_unknown',
        );
      }
      if (seen.has(column)) throw columnError(column, `Column "${column}" appears twice`, 'column_duplicate');
      seen.add(column);
      return column;
    });
    if (columns.filter((c) => c.startsWith(METADATA_PREFIX)).length > MAX_METADATA_KEYS)
      throw columnError('metadata', `At most ${MAX_METADATA_KEYS} metadata columns`, 'column_invalid');
    const missing = this.missingColumn(seen);
    if (missing) throw columnError(missing.column, missing.reason, 'column_missing');
    return columns;
  }

  private missingColumn(has: Set<string>): { column: string; reason: string } | undefined {
    const channels = this.template.channels ?? [];
    if (!has.has('email') && !has.has('phone'))
      return { column: 'email', reason: 'Missing column: give an email or a phone column (or both)' };
    if (channels.length > 0 && !channels.some((c) => has.has(contactColumn(c))))
      return {
        column: contactColumn(channels[0] as 'email' | 'sms'),
        reason: `Missing column "${contactColumn(channels[0] as 'email' | 'sms')}": the campaign sends by ${channels.join(' and ')}`,
      };
    if (this.needsAmount && !has.has('amount'))
      return {
        column: 'amount',
        reason: 'Missing column "amount": the campaign\'s link has no amount of its own',
      };
    for (const p of this.placeholders) {
      const column = columnOf(p);
      if (column !== 'amount' && !has.has(column))
        return { column, reason: `Missing column "${column}": the link's description uses {${column}}` };
    }
    return undefined;
  }

  /** A row's recipient, or why it is refused (its first fault: contact and text fields, amount, metadata, then what the campaign needs). */
  row(
    cells: Cells,
  ): { ok: true; recipient: Recipient } | { ok: false; column: string | null; reason: string } {
    const values: Partial<Record<Column, string>> = {};
    for (const column of RECIPIENT_COLUMNS) {
      if (column === 'amount') continue;
      const raw = cells.get(column);
      if (raw === undefined || raw === '') continue;
      if (typeof raw !== 'string') return { ok: false, column, reason: 'must be text' };
      const parsed = FIELD[column].safeParse(raw);
      if (!parsed.success) return { ok: false, column, reason: parsed.error.issues[0]?.message ?? 'invalid' };
      if (parsed.data !== undefined) values[column] = parsed.data;
    }
    let amount: number | null = null;
    const rawAmount = cells.get('amount');
    if (rawAmount !== undefined && rawAmount !== '') {
      const number =
        typeof rawAmount === 'number' ? rawAmount : /^\d{1,16}$/.test(rawAmount) ? Number(rawAmount) : NaN;
      const parsed = AmountSchema.safeParse(number);
      if (!parsed.success)
        return {
          ok: false,
          column: 'amount',
          reason: Number.isNaN(number)
            ? 'must be a whole number of minor units of the currency, such as 1250 for 12.50'
            : (parsed.error.issues[0]?.message ?? 'invalid'),
        };
      amount = parsed.data;
    }
    const metadata: Record<string, string> = {};
    for (const [column, raw] of cells) {
      if (!column.startsWith(METADATA_PREFIX) || raw === '') continue;
      const parsed = metadataValue.safeParse(raw);
      if (!parsed.success || typeof raw !== 'string')
        return {
          ok: false,
          column,
          reason: parsed.success ? 'must be text' : (parsed.error.issues[0]?.message ?? 'invalid'),
        };
      metadata[column.slice(METADATA_PREFIX.length)] = parsed.data;
    }
    if (Object.keys(metadata).length > MAX_METADATA_KEYS)
      return { ok: false, column: 'metadata', reason: `at most ${MAX_METADATA_KEYS} keys` };

    const recipient: Recipient = {
      name: values.name ?? null,
      email: values.email ?? null,
      phone: values.phone ?? null,
      locale: values.locale ?? null,
      timezone: values.timezone ?? null,
      amount,
      reference: values.reference ?? null,
      metadata,
    };
    const fault = this.missingValue(recipient);
    return fault ? { ok: false, ...fault } : { ok: true, recipient };
  }

  private missingValue(r: Recipient): { column: string | null; reason: string } | undefined {
    const channels = this.template.channels ?? [];
    if (r.email === null && r.phone === null)
      return { column: 'email', reason: 'required: give an email or a phone' };
    if (channels.length > 0 && !channels.some((c) => (c === 'email' ? r.email : r.phone) !== null)) {
      const column = contactColumn(channels[0] as 'email' | 'sms');
      return { column, reason: `required: the campaign sends by ${channels.join(' and ')}` };
    }
    if (this.needsAmount && r.amount === null)
      return { column: 'amount', reason: "required: the campaign's link has no amount of its own" };
    for (const p of this.placeholders) {
      const present =
        p.field === 'metadata'
          ? r.metadata[p.key] !== undefined
          : p.field === 'amount' || r[p.field] !== null;
      if (!present)
        return { column: columnOf(p), reason: `required: the link's description uses {${columnOf(p)}}` };
    }
    if (this.template.description !== undefined && this.placeholders.length > 0) {
      const filled = renderDescription(this.template.description, {
        ...r,
        amount: r.amount ?? this.template.amount ?? null,
        currency: this.template.currency,
      });
      if (filled.length > MAX_DESCRIPTION)
        return {
          column: null,
          reason: `the link's description filled in for this recipient is longer than ${MAX_DESCRIPTION} characters`,
        };
    }
    return undefined;
  }
}

const contactColumn = (channel: 'email' | 'sms') => (channel === 'email' ? 'email' : 'phone');

const columnError = (column: string, message: string, code: string) =>
  ApiError.invalid(message, column, code);

/** A JSON recipient as cells: its fields, and `metadata: {k: v}` as `metadata.k`. */
export function cellsOfJson(
  value: unknown,
): { ok: true; cells: Cells } | { ok: false; column: string | null; reason: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, column: null, reason: 'must be an object' };
  const cells: Cells = new Map();
  for (const [key, v] of Object.entries(value)) {
    if (key === 'metadata') {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'object' || Array.isArray(v))
        return { ok: false, column: 'metadata', reason: 'must be an object' };
      for (const [k, mv] of Object.entries(v)) {
        if (!metadataKey.safeParse(k).success)
          return { ok: false, column: `metadata.${k}`, reason: 'a metadata key is 1 to 40 characters' };
        if (typeof mv !== 'string') return { ok: false, column: `metadata.${k}`, reason: 'must be text' };
        cells.set(`${METADATA_PREFIX}${k}`, mv);
      }
    } else if ((RECIPIENT_COLUMNS as readonly string[]).includes(key)) {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'string' && typeof v !== 'number')
        return { ok: false, column: key, reason: key === 'amount' ? 'must be an integer' : 'must be text' };
      if (key === 'amount' && typeof v !== 'number')
        return { ok: false, column: key, reason: 'must be an integer' };
      cells.set(key, v);
    } else return { ok: false, column: key, reason: 'unknown field' };
  }
  return { ok: true, cells };
}

/**
 * The campaign's channels a recipient can be reached on (an import keeps only recipients with at
 * least one): what their link is created with, so a recipient without a phone gets no SMS.
 */
export function recipientChannels(
  channels: readonly ('email' | 'sms')[] | undefined,
  r: Pick<Recipient, 'email' | 'phone'>,
): ('email' | 'sms')[] {
  return (channels ?? []).filter((c) => (c === 'email' ? r.email : r.phone) !== null);
}

/** The keys that make two recipients the same person. */
export function identityKeys(r: Recipient): string[] {
  const keys: string[] = [];
  if (r.email !== null) keys.push(`e:${r.email.toLowerCase()}`);
  if (r.phone !== null) keys.push(`p:${r.phone}`);
  if (r.reference !== null) keys.push(`r:${r.reference}`);
  return keys;
}

/**
 * Collects an import's rows in order: good ones (first of each person), bad ones with their
 * reason, and how many repeated a person already in the file.
 */
export class RecipientBatch {
  readonly recipients: Recipient[] = [];
  readonly rejected: RowRejection[] = [];
  duplicates = 0;
  rows = 0;
  private readonly seen = new Set<string>();

  constructor(private readonly rules: ImportRules) {}

  add(cells: Cells): void {
    this.rows += 1;
    const checked = this.rules.row(cells);
    if (!checked.ok) {
      this.rejected.push({ row: this.rows, column: checked.column, reason: checked.reason });
      return;
    }
    this.push(checked.recipient);
  }

  reject(column: string | null, reason: string): void {
    this.rows += 1;
    this.rejected.push({ row: this.rows, column, reason });
  }

  private push(recipient: Recipient): void {
    const keys = identityKeys(recipient);
    if (keys.some((k) => this.seen.has(k))) {
      this.duplicates += 1;
      return;
    }
    for (const k of keys) this.seen.add(k);
    this.recipients.push(recipient);
  }
}
