/**
 * The reminder instants the API and the `planReminders` activity compute and the workflow carries
 * (`precomputed-instants`): DST gaps and overlaps in Paris and New York, quiet hours across
 * midnight. Every input is a fixed instant: nothing here reads the clock.
 *
 * 2027: Paris springs forward on 28 March at 01:00Z (02:00 CET → 03:00 CEST) and falls back on
 * 31 October at 01:00Z (03:00 CEST → 02:00 CET); New York on 14 March at 07:00Z (02:00 EST →
 * 03:00 EDT) and 7 November at 06:00Z (02:00 EDT → 01:00 EST).
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { outsideQuietHours, reminderPlan, reminderSchedule } from '../../src/links/reminder-schedule';
import type { ReminderBasis } from '../../workflows/payment-link/contract';
import * as frozen from '../../workflows/payment-link/legacy/reminders-v1';
import { planFor } from '../../workflows/payment-link/reminder-plan';

const PARIS = 'Europe/Paris';
const NEW_YORK = 'America/New_York';
const instants = (list: { at: string }[]) => list.map((r) => r.at);
const local = (iso: string, zone: string) =>
  DateTime.fromISO(iso, { zone }).toFormat("yyyy-MM-dd HH:mm 'UTC'ZZ");

/** One reminder `offset` after `createdAt`, in `timezone`, with `quietHours`. */
const afterCreated = (
  createdAt: string,
  offset: string,
  timezone: string,
  quietHours: ReminderBasis['quietHours'] = null,
): ReminderBasis => ({
  createdAt,
  expiresAt: DateTime.fromISO(createdAt).plus({ days: 10 }).toUTC().toISO() as string,
  reminders: { afterCreated: [offset], beforeExpiry: [] },
  quietHours,
  timezone,
});

describe('calendar and clock offsets across a DST change', () => {
  it('Paris, spring forward: P1D keeps 09:00 on the wall clock, PT24H is 24 real hours', () => {
    const basis = {
      ...afterCreated('2027-03-27T08:00:00.000Z', 'P1D', PARIS), // 09:00 CET
      reminders: { afterCreated: ['P1D', 'PT24H'], beforeExpiry: [] },
    };
    const schedule = reminderSchedule(basis);
    expect(schedule).toEqual([
      { at: '2027-03-28T07:00:00.000Z', source: 'after_created:P1D' },
      { at: '2027-03-28T08:00:00.000Z', source: 'after_created:PT24H' },
    ]);
    expect(local(schedule[0]?.at ?? '', PARIS)).toBe('2027-03-28 09:00 UTC+02:00');
  });

  it('Paris, fall back: P2D before a 10:00 CET expiry is 10:00 CEST, PT48H an hour later', () => {
    const schedule = reminderSchedule({
      createdAt: '2027-10-25T08:00:00.000Z',
      expiresAt: '2027-11-01T09:00:00.000Z', // 10:00 CET
      reminders: { afterCreated: [], beforeExpiry: ['P2D', 'PT48H'] },
      quietHours: null,
      timezone: PARIS,
    });
    expect(schedule).toEqual([
      { at: '2027-10-30T08:00:00.000Z', source: 'before_expiry:P2D' },
      { at: '2027-10-30T09:00:00.000Z', source: 'before_expiry:PT48H' },
    ]);
    expect(local(schedule[0]?.at ?? '', PARIS)).toBe('2027-10-30 10:00 UTC+02:00');
  });

  it('Paris, gap: a calendar offset onto 02:30 on the spring-forward day is 03:30 CEST', () => {
    const [reminder] = reminderSchedule(afterCreated('2027-03-27T01:30:00.000Z', 'P1D', PARIS)); // 02:30 CET
    expect(reminder?.at).toBe('2027-03-28T01:30:00.000Z');
    expect(local(reminder?.at ?? '', PARIS)).toBe('2027-03-28 03:30 UTC+02:00');
  });

  it('Paris, overlap: a calendar offset onto 02:30 on the fall-back day is its first occurrence', () => {
    const [reminder] = reminderSchedule(afterCreated('2027-10-30T00:30:00.000Z', 'P1D', PARIS)); // 02:30 CEST
    expect(reminder?.at).toBe('2027-10-31T00:30:00.000Z');
    expect(local(reminder?.at ?? '', PARIS)).toBe('2027-10-31 02:30 UTC+02:00');
  });

  it('New York, gap and overlap', () => {
    // 02:30 EST on the 13th + P1D: 02:30 does not exist on the 14th, 03:30 EDT.
    const [gap] = reminderSchedule(afterCreated('2027-03-13T07:30:00.000Z', 'P1D', NEW_YORK));
    expect(gap?.at).toBe('2027-03-14T07:30:00.000Z');
    expect(local(gap?.at ?? '', NEW_YORK)).toBe('2027-03-14 03:30 UTC-04:00');
    // 01:30 EDT on the 6th + P1D: 01:30 happens twice on the 7th, the first (EDT) is taken, once.
    const overlap = reminderSchedule(afterCreated('2027-11-06T05:30:00.000Z', 'P1D', NEW_YORK));
    expect(instants(overlap)).toEqual(['2027-11-07T05:30:00.000Z']);
    expect(local(overlap[0]?.at ?? '', NEW_YORK)).toBe('2027-11-07 01:30 UTC-04:00');
    // From 02:30 EDT on the 6th: P1D is 02:30 EST, PT24H is exact, so 01:30 EST (its second pass).
    const start = '2027-11-06T06:30:00.000Z';
    expect(instants(reminderSchedule(afterCreated(start, 'P1D', NEW_YORK)))).toEqual([
      '2027-11-07T07:30:00.000Z',
    ]);
    const clock = reminderSchedule(afterCreated(start, 'PT24H', NEW_YORK));
    expect(instants(clock)).toEqual(['2027-11-07T06:30:00.000Z']);
    expect(local(clock[0]?.at ?? '', NEW_YORK)).toBe('2027-11-07 01:30 UTC-05:00');
  });
});

describe('quiet hours', () => {
  const NIGHT = { start: '22:00', end: '07:00' };

  it('across midnight: late evening moves to the next morning, early morning to the same one', () => {
    const at = (iso: string) => outsideQuietHours(DateTime.fromISO(iso, { zone: PARIS }), NIGHT).toISO();
    expect(at('2027-06-01T23:30')).toBe('2027-06-02T07:00:00.000+02:00');
    expect(at('2027-06-02T06:00')).toBe('2027-06-02T07:00:00.000+02:00');
    expect(at('2027-06-01T22:00')).toBe('2027-06-02T07:00:00.000+02:00');
    // The window is [start, end): its ends are outside it.
    expect(at('2027-06-01T21:59')).toBe('2027-06-01T21:59:00.000+02:00');
    expect(at('2027-06-02T07:00')).toBe('2027-06-02T07:00:00.000+02:00');
  });

  it('across midnight on the spring-forward night: the window ends at 07:00 CEST, an hour sooner', () => {
    // 22:00 CET on the 27th + PT2H = 00:00 CET on the 28th, inside 22:00–07:00.
    const [reminder] = reminderSchedule(afterCreated('2027-03-27T21:00:00.000Z', 'PT2H', PARIS, NIGHT));
    expect(reminder?.at).toBe('2027-03-28T05:00:00.000Z');
    expect(local(reminder?.at ?? '', PARIS)).toBe('2027-03-28 07:00 UTC+02:00');
  });

  it('a window that ends inside the spring-forward gap ends with the gap (Paris, New York)', () => {
    // Due at 01:30 CET on the 28th, inside 21:00–02:30.
    const paris = reminderSchedule(
      afterCreated('2027-03-27T23:30:00.000Z', 'PT1H', PARIS, { start: '21:00', end: '02:30' }),
    );
    // 02:30 does not exist on the 28th: at 03:00 CEST the wall clock is past it.
    expect(instants(paris)).toEqual(['2027-03-28T01:00:00.000Z']);
    expect(local(paris[0]?.at ?? '', PARIS)).toBe('2027-03-28 03:00 UTC+02:00');

    // Due at 01:45 EST on the 14th, inside 22:00–02:30.
    const newYork = reminderSchedule(
      afterCreated('2027-03-14T05:45:00.000Z', 'PT1H', NEW_YORK, { start: '22:00', end: '02:30' }),
    );
    expect(instants(newYork)).toEqual(['2027-03-14T07:00:00.000Z']);
    expect(local(newYork[0]?.at ?? '', NEW_YORK)).toBe('2027-03-14 03:00 UTC-04:00');
  });

  it('a window that ends inside the fall-back overlap ends on the pass of the wall clock it is in', () => {
    const window = { start: '21:00', end: '02:30' };
    // Paris: 02:15 CEST (first pass) and 02:15 CET (second pass) are both inside it.
    const first = reminderSchedule(afterCreated('2027-10-30T23:15:00.000Z', 'PT1H', PARIS, window));
    expect(local(first[0]?.at ?? '', PARIS)).toBe('2027-10-31 02:30 UTC+02:00');
    const second = reminderSchedule(afterCreated('2027-10-31T00:15:00.000Z', 'PT1H', PARIS, window));
    expect(local(second[0]?.at ?? '', PARIS)).toBe('2027-10-31 02:30 UTC+01:00');
    // New York: 01:15 EDT and 01:15 EST, window to 01:30.
    const nyWindow = { start: '22:00', end: '01:30' };
    const nyFirst = reminderSchedule(afterCreated('2027-11-07T04:15:00.000Z', 'PT1H', NEW_YORK, nyWindow));
    expect(instants(nyFirst)).toEqual(['2027-11-07T05:30:00.000Z']); // 01:30 EDT
    const nySecond = reminderSchedule(afterCreated('2027-11-07T05:15:00.000Z', 'PT1H', NEW_YORK, nyWindow));
    expect(instants(nySecond)).toEqual(['2027-11-07T06:30:00.000Z']); // 01:30 EST
  });

  it('the frozen copy old runs replay on keeps its own answer for the gap (03:30), whatever the current rules say', () => {
    const basis = afterCreated('2027-03-27T23:30:00.000Z', 'PT1H', PARIS, { start: '21:00', end: '02:30' });
    expect(instants(frozen.reminderSchedule(basis))).toEqual(['2027-03-28T01:30:00.000Z']);
    expect(instants(reminderSchedule(basis))).toEqual(['2027-03-28T01:00:00.000Z']);
  });
});

describe('the plan a run carries', () => {
  const basis: ReminderBasis = {
    createdAt: '2027-03-27T08:00:00.000Z',
    expiresAt: '2027-04-03T08:00:00.000Z',
    reminders: { afterCreated: ['P1D'], beforeExpiry: ['P1D'] },
    quietHours: { start: '21:00', end: '09:30' },
    timezone: PARIS,
  };

  it('holds the instants after quiet hours and what they were computed from', () => {
    const plan = reminderPlan({ ...basis, ...{ id: 'plink_x', amount: 100 } });
    expect(plan).toEqual({
      basis,
      reminders: [
        // 09:00 CEST on the 28th is quiet until 09:30.
        { at: '2027-03-28T07:30:00.000Z', source: 'after_created:P1D' },
        // A day before 10:00 CEST, outside quiet hours.
        { at: '2027-04-02T08:00:00.000Z', source: 'before_expiry:P1D' },
      ],
    });
  });

  it('fits the terms it was computed for, however their instants are spelled, and no others', () => {
    const plan = reminderPlan(basis);
    expect(planFor(basis, plan)).toBe(plan);
    expect(planFor({ ...basis, createdAt: '2027-03-27T09:00:00+01:00' }, plan)).toBe(plan);
    expect(planFor({ ...basis, expiresAt: '2027-04-04T08:00:00.000Z' }, plan)).toBeUndefined();
    expect(planFor({ ...basis, quietHours: null }, plan)).toBeUndefined();
    expect(planFor({ ...basis, quietHours: { start: '21:00', end: '09:00' } }, plan)).toBeUndefined();
    expect(
      planFor({ ...basis, reminders: { afterCreated: ['P1D'], beforeExpiry: [] } }, plan),
    ).toBeUndefined();
    expect(planFor({ ...basis, timezone: 'Europe/Berlin' }, plan)).toBeUndefined();
    expect(planFor(basis, undefined)).toBeUndefined();
    expect(planFor(basis, { basis } as never)).toBeUndefined();
  });
});
