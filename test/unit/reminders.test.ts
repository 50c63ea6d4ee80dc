import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { outsideQuietHours, reminderSchedule } from '../../src/links/reminder-schedule';
import { nextReminder } from '../../workflows/payment-link/reminder-plan';

const NIGHT = { start: '21:00', end: '08:00' };
const at = (list: { at: string }[]) => list.map((r) => r.at);

describe('reminderSchedule', () => {
  it('applies offsets after creation and before expiry, in order', () => {
    const schedule = reminderSchedule({
      createdAt: '2026-06-01T10:00:00.000Z',
      expiresAt: '2026-06-10T10:00:00.000Z',
      reminders: { afterCreated: ['P3D', 'P1D'], beforeExpiry: ['PT24H'] },
      quietHours: null,
      timezone: 'UTC',
    });
    expect(schedule).toEqual([
      { at: '2026-06-02T10:00:00.000Z', source: 'after_created:P1D' },
      { at: '2026-06-04T10:00:00.000Z', source: 'after_created:P3D' },
      { at: '2026-06-09T10:00:00.000Z', source: 'before_expiry:PT24H' },
    ]);
  });

  it('moves a reminder out of quiet hours in the customer’s zone', () => {
    // 18:00 in New York + 4h = 22:00 local, inside 21:00–08:00: sent at 08:00 local instead.
    const schedule = reminderSchedule({
      createdAt: '2026-06-01T22:00:00.000Z', // 18:00 EDT
      expiresAt: '2026-06-05T00:00:00.000Z',
      reminders: { afterCreated: ['PT4H'], beforeExpiry: [] },
      quietHours: NIGHT,
      timezone: 'America/New_York',
    });
    expect(at(schedule)).toEqual(['2026-06-02T12:00:00.000Z']); // 08:00 EDT
  });

  it('uses the zone it is given: the same instant is quiet in Tokyo but not in London', () => {
    const input = {
      createdAt: '2026-06-01T12:00:00.000Z',
      expiresAt: '2026-06-05T00:00:00.000Z',
      reminders: { afterCreated: ['PT1H'], beforeExpiry: [] },
      quietHours: NIGHT,
    };
    expect(at(reminderSchedule({ ...input, timezone: 'Europe/London' }))).toEqual([
      '2026-06-01T13:00:00.000Z',
    ]);
    // 13:00Z is 22:00 in Tokyo: moved to 08:00 JST = 23:00Z.
    expect(at(reminderSchedule({ ...input, timezone: 'Asia/Tokyo' }))).toEqual(['2026-06-01T23:00:00.000Z']);
  });

  it('keeps wall-clock time across a DST change for calendar offsets, exact time for clock offsets', () => {
    // New York springs forward on 2026-03-08. 09:00 EST on the 7th.
    const base = {
      createdAt: '2026-03-07T14:00:00.000Z',
      expiresAt: '2026-03-20T00:00:00.000Z',
      quietHours: null,
      timezone: 'America/New_York',
    };
    const calendar = reminderSchedule({ ...base, reminders: { afterCreated: ['P1D'], beforeExpiry: [] } });
    expect(at(calendar)).toEqual(['2026-03-08T13:00:00.000Z']); // 09:00 EDT
    const clock = reminderSchedule({ ...base, reminders: { afterCreated: ['PT24H'], beforeExpiry: [] } });
    expect(at(clock)).toEqual(['2026-03-08T14:00:00.000Z']); // 10:00 EDT
  });

  it('handles a 02:30 reminder on the spring-forward day (a time that does not exist)', () => {
    const base = {
      createdAt: '2026-03-07T07:30:00.000Z', // 02:30 EST on the 7th
      expiresAt: '2026-03-20T00:00:00.000Z',
      reminders: { afterCreated: ['P1D'], beforeExpiry: [] },
      timezone: 'America/New_York',
    };
    // 02:30 on the 8th does not exist: it becomes 03:30 EDT, one real hour later than 02:30 EST.
    const noQuiet = reminderSchedule({ ...base, quietHours: null });
    expect(at(noQuiet)).toEqual(['2026-03-08T07:30:00.000Z']);
    expect(DateTime.fromISO(noQuiet[0]?.at ?? '', { zone: base.timezone }).toFormat('HH:mm')).toBe('03:30');
    // With quiet hours it is night either way, and moves to 08:00 EDT.
    expect(at(reminderSchedule({ ...base, quietHours: NIGHT }))).toEqual(['2026-03-08T12:00:00.000Z']);
  });

  it('handles the fall-back day (01:30 happens twice) without sending twice', () => {
    const schedule = reminderSchedule({
      createdAt: '2026-10-31T05:30:00.000Z', // 01:30 EDT on Oct 31
      expiresAt: '2026-11-10T00:00:00.000Z',
      reminders: { afterCreated: ['P1D'], beforeExpiry: [] },
      quietHours: null,
      timezone: 'America/New_York',
    });
    expect(schedule).toHaveLength(1);
    expect(
      DateTime.fromISO(schedule[0]?.at ?? '', { zone: 'America/New_York' }).toFormat('yyyy-MM-dd HH:mm'),
    ).toBe('2026-11-01 01:30');
  });

  it('drops reminders at or after expiry, including those pushed there by quiet hours', () => {
    const schedule = reminderSchedule({
      createdAt: '2026-06-01T12:00:00.000Z',
      expiresAt: '2026-06-02T06:00:00.000Z',
      reminders: { afterCreated: ['PT2H', 'PT10H', 'P2D'], beforeExpiry: ['P3D'] },
      quietHours: NIGHT,
      timezone: 'UTC',
    });
    // PT2H → 14:00 kept. PT10H → 22:00, quiet → 08:00 next day, after the 06:00 expiry: dropped.
    // P2D is after expiry; P3D before expiry is before creation.
    expect(at(schedule)).toEqual(['2026-06-01T14:00:00.000Z']);
  });

  it('sends once when quiet hours fold two reminders onto the same instant', () => {
    const schedule = reminderSchedule({
      createdAt: '2026-06-01T20:00:00.000Z',
      expiresAt: '2026-06-05T00:00:00.000Z',
      reminders: { afterCreated: ['PT2H', 'PT5H'], beforeExpiry: [] },
      quietHours: NIGHT,
      timezone: 'UTC',
    });
    expect(at(schedule)).toEqual(['2026-06-02T08:00:00.000Z']);
  });

  it('supports a daytime quiet window that does not cross midnight', () => {
    const lunch = { start: '12:00', end: '13:00' };
    const local = DateTime.fromISO('2026-06-01T12:30', { zone: 'Europe/Paris' });
    expect(outsideQuietHours(local, lunch).toFormat('HH:mm')).toBe('13:00');
    expect(outsideQuietHours(local.set({ hour: 13, minute: 0 }), lunch).toFormat('HH:mm')).toBe('13:00');
    expect(outsideQuietHours(local.set({ hour: 11, minute: 59 }), lunch).toFormat('HH:mm')).toBe('11:59');
  });

  it('moves an early-morning reminder to the end of the same night', () => {
    const local = DateTime.fromISO('2026-06-01T03:00', { zone: 'UTC' });
    expect(outsideQuietHours(local, NIGHT).toISO()).toBe('2026-06-01T08:00:00.000Z');
  });
});

describe('nextReminder', () => {
  const schedule = [
    { at: '2026-06-02T10:00:00.000Z', source: 'a' },
    { at: '2026-06-04T10:00:00.000Z', source: 'b' },
  ];
  it('is the first reminder strictly after the cursor', () => {
    expect(nextReminder(schedule, '2026-06-01T00:00:00.000Z')?.source).toBe('a');
    expect(nextReminder(schedule, '2026-06-02T10:00:00.000Z')?.source).toBe('b');
    expect(nextReminder(schedule, '2026-06-04T10:00:00.000Z')).toBeUndefined();
  });
});
