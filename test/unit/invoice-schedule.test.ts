import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { invoiceSchedule } from '../../src/commerce/document-links';

const now = DateTime.fromISO('2026-03-01T12:00:00Z', { zone: 'utc' });
const seconds = (iso: string) => `PT${Math.round(DateTime.fromISO(iso).diff(now).as('seconds'))}S`;

describe('an invoice link follows the due date', () => {
  it('reminds 3 days before, on the day, 3 and 7 days after, at 09:00 in the customer zone; lives 14 days past it', () => {
    const s = invoiceSchedule('2026-03-20', 'Europe/Paris', now);
    expect(s.afterCreated).toEqual([
      seconds('2026-03-17T09:00:00+01:00'),
      seconds('2026-03-20T09:00:00+01:00'),
      seconds('2026-03-23T09:00:00+01:00'),
      seconds('2026-03-27T09:00:00+01:00'),
    ]);
    expect(s.expiresAt).toBe('2026-04-03T07:00:00.000Z'); // 09:00 in Paris, summer time by then
  });

  it('drops reminders already past; an overdue invoice still gets a day to pay', () => {
    const overdue = invoiceSchedule('2026-02-25', 'UTC', now);
    expect(overdue.afterCreated).toEqual([seconds('2026-03-04T09:00:00Z')]);
    expect(overdue.expiresAt).toBe('2026-03-11T09:00:00.000Z');
    const long = invoiceSchedule('2020-01-01', 'UTC', now);
    expect(long.afterCreated).toEqual([]);
    expect(long.expiresAt).toBe('2026-03-02T12:00:00.000Z');
  });

  it('a due date beyond a year stops at the longest a link lives', () => {
    const far = invoiceSchedule('2028-01-01', 'UTC', now);
    expect(far.afterCreated).toEqual([]);
    expect(Date.parse(far.expiresAt)).toBeLessThanOrEqual(now.plus({ days: 366 }).toMillis());
  });
});
