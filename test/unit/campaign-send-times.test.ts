import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  LATE_SEND_GRACE_MS,
  localInstant,
  quietUntil,
  sendTimeFor,
  singleLinkStartAt,
  templateQuietHours,
  zoneOr,
} from '../../src/campaigns/send-times';

const NO_QUIET = null;
const DEFAULT_QUIET = { start: '21:00', end: '08:00' };
const at = (date: string, time: string, zone: string) => localInstant(date, time, zone).toISO();

describe('localInstant', () => {
  it('reads a wall-clock time in three zones', () => {
    expect(at('2026-12-01', '10:00', 'America/New_York')).toBe('2026-12-01T15:00:00.000Z');
    expect(at('2026-12-01', '10:00', 'Europe/Paris')).toBe('2026-12-01T09:00:00.000Z');
    expect(at('2026-12-01', '10:00', 'Australia/Sydney')).toBe('2026-11-30T23:00:00.000Z');
  });

  it('takes the first occurrence of a time that happens twice (fall back)', () => {
    // New York, 2026-11-01: 01:30 EDT (05:30Z) and again 01:30 EST (06:30Z).
    expect(at('2026-11-01', '01:30', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    // Paris, 2026-10-25: 02:30 CEST (00:30Z) and again 02:30 CET (01:30Z).
    expect(at('2026-10-25', '02:30', 'Europe/Paris')).toBe('2026-10-25T00:30:00.000Z');
    // Sydney falls back on 2026-04-05: 02:30 AEDT (15:30Z the day before), then AEST.
    expect(at('2026-04-05', '02:30', 'Australia/Sydney')).toBe('2026-04-04T15:30:00.000Z');
  });

  it('moves a time that does not exist (spring forward) to the first instant after the gap', () => {
    // Sydney, 2026-10-04: 02:00 AEST jumps to 03:00 AEDT; 02:30 becomes 03:00 AEDT (16:00Z).
    expect(at('2026-10-04', '02:30', 'Australia/Sydney')).toBe('2026-10-03T16:00:00.000Z');
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    expect(at('2026-03-08', '02:15', 'America/New_York')).toBe('2026-03-08T07:00:00.000Z');
    // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    expect(at('2026-03-29', '02:59', 'Europe/Paris')).toBe('2026-03-29T01:00:00.000Z');
  });

  it('keeps the wall-clock time on the days around a change', () => {
    expect(at('2026-10-24', '10:00', 'Europe/Paris')).toBe('2026-10-24T08:00:00.000Z');
    expect(at('2026-10-25', '10:00', 'Europe/Paris')).toBe('2026-10-25T09:00:00.000Z');
    expect(at('2026-10-31', '10:00', 'America/New_York')).toBe('2026-10-31T14:00:00.000Z');
    expect(at('2026-11-01', '10:00', 'America/New_York')).toBe('2026-11-01T15:00:00.000Z');
    expect(at('2026-10-03', '10:00', 'Australia/Sydney')).toBe('2026-10-03T00:00:00.000Z');
    expect(at('2026-10-04', '10:00', 'Australia/Sydney')).toBe('2026-10-03T23:00:00.000Z');
  });

  it('accepts seconds', () => {
    expect(at('2026-12-01', '10:00:30', 'Europe/Paris')).toBe('2026-12-01T09:00:30.000Z');
  });
});

describe('sendTimeFor', () => {
  const startedAt = '2026-09-01T00:00:00.000Z';
  const local = (date: string, time: string) => ({ send_at_local: { date, time } });

  it('sends at the local time in each zone, across a DST change', () => {
    const schedule = local('2026-11-01', '10:00');
    expect(sendTimeFor({ schedule, startedAt, zone: 'America/New_York', quietHours: DEFAULT_QUIET })).toEqual(
      {
        sendAt: '2026-11-01T15:00:00.000Z', // EST since 02:00 that morning
      },
    );
    expect(sendTimeFor({ schedule, startedAt, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET })).toEqual({
      sendAt: '2026-11-01T09:00:00.000Z',
    });
    expect(sendTimeFor({ schedule, startedAt, zone: 'Australia/Sydney', quietHours: DEFAULT_QUIET })).toEqual(
      {
        sendAt: '2026-10-31T23:00:00.000Z', // AEDT since 2026-10-04
      },
    );
  });

  it('moves a local time inside quiet hours to the end of the window, in the zone', () => {
    const schedule = local('2026-11-01', '06:30');
    expect(sendTimeFor({ schedule, startedAt, zone: 'America/New_York', quietHours: DEFAULT_QUIET })).toEqual(
      {
        sendAt: '2026-11-01T13:00:00.000Z', // 08:00 EST
      },
    );
    expect(sendTimeFor({ schedule, startedAt, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET })).toEqual({
      sendAt: '2026-11-01T07:00:00.000Z', // 08:00 CET
    });
    // Late evening: quiet until 08:00 the next morning.
    expect(
      sendTimeFor({
        schedule: local('2026-10-03', '22:00'),
        startedAt,
        zone: 'Australia/Sydney',
        quietHours: DEFAULT_QUIET,
      }),
    ).toEqual({ sendAt: '2026-10-03T21:00:00.000Z' }); // 08:00 AEDT on the 4th, after the change
    // No quiet hours: the time as given.
    expect(sendTimeFor({ schedule, startedAt, zone: 'Europe/Paris', quietHours: NO_QUIET })).toEqual({
      sendAt: '2026-11-01T05:30:00.000Z',
    });
  });

  it('sends everyone at start_at (or now), outside each zone’s quiet hours', () => {
    const schedule = { start_at: '2026-11-01T12:00:00.000Z' };
    // 07:00 in New York (EST): quiet until 08:00.
    expect(sendTimeFor({ schedule, startedAt, zone: 'America/New_York', quietHours: DEFAULT_QUIET })).toEqual(
      {
        sendAt: '2026-11-01T13:00:00.000Z',
      },
    );
    // 13:00 in Paris: at once.
    expect(sendTimeFor({ schedule, startedAt, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET })).toEqual({
      sendAt: '2026-11-01T12:00:00.000Z',
    });
    // 23:00 in Sydney: quiet until 08:00 the next day.
    expect(sendTimeFor({ schedule, startedAt, zone: 'Australia/Sydney', quietHours: DEFAULT_QUIET })).toEqual(
      {
        sendAt: '2026-11-01T21:00:00.000Z',
      },
    );
    expect(
      sendTimeFor({
        schedule: null,
        startedAt: '2026-11-01T12:00:00Z',
        zone: 'Europe/Paris',
        quietHours: null,
      }),
    ).toEqual({ sendAt: '2026-11-01T12:00:00.000Z' });
  });

  it('skips a local time long past at start, sends one a little late at once', () => {
    const schedule = local('2026-12-01', '10:00');
    const paris = '2026-12-01T09:00:00.000Z';
    const justLate = new Date(Date.parse(paris) + 5 * 60_000).toISOString();
    expect(
      sendTimeFor({ schedule, startedAt: justLate, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET }),
    ).toEqual({
      sendAt: justLate,
    });
    const tooLate = new Date(Date.parse(paris) + LATE_SEND_GRACE_MS + 1).toISOString();
    expect(
      sendTimeFor({ schedule, startedAt: tooLate, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET }),
    ).toEqual({
      skipped: 'send_time_passed',
      dueAt: paris,
    });
    // The same start is still hours before 10:00 in New York.
    expect(
      sendTimeFor({ schedule, startedAt: tooLate, zone: 'America/New_York', quietHours: DEFAULT_QUIET }),
    ).toEqual({
      sendAt: '2026-12-01T15:00:00.000Z',
    });
  });

  it('judges lateness after quiet hours: 07:00 pushed to 08:00 is not late at 07:30', () => {
    const schedule = local('2026-12-01', '07:00');
    const startedAt = '2026-12-01T06:30:00.000Z'; // 07:30 in Paris
    expect(sendTimeFor({ schedule, startedAt, zone: 'Europe/Paris', quietHours: DEFAULT_QUIET })).toEqual({
      sendAt: '2026-12-01T07:00:00.000Z',
    });
  });
});

describe('quietUntil', () => {
  it('lets a send through outside quiet hours and puts it off to their end inside them', () => {
    const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
    // 20:59 in Paris: still allowed; 21:00: quiet until 08:00 the next morning.
    expect(quietUntil(at('2026-12-01T19:59:00Z'), 'Europe/Paris', DEFAULT_QUIET)).toBeNull();
    expect(quietUntil(at('2026-12-01T20:00:00Z'), 'Europe/Paris', DEFAULT_QUIET)).toBe(
      '2026-12-02T07:00:00.000Z',
    );
    // The same instant is 15:00 in New York.
    expect(quietUntil(at('2026-12-01T20:00:00Z'), 'America/New_York', DEFAULT_QUIET)).toBeNull();
    expect(quietUntil(at('2026-12-01T20:00:00Z'), 'Europe/Paris', null)).toBeNull();
  });
});

describe('helpers', () => {
  it('falls back to the account zone for a missing or unknown zone', () => {
    expect(zoneOr(null, 'Europe/Paris')).toBe('Europe/Paris');
    expect(zoneOr('Mars/Olympus', 'Europe/Paris')).toBe('Europe/Paris');
    expect(zoneOr('Asia/Tokyo', 'Europe/Paris')).toBe('Asia/Tokyo');
  });

  it('reads the template quiet hours like a link does', () => {
    expect(templateQuietHours({})).toEqual(DEFAULT_QUIET);
    expect(templateQuietHours({ quiet_hours: null })).toBeNull();
    expect(templateQuietHours({ quiet_hours: { start: '22:00', end: '07:00' } })).toEqual({
      start: '22:00',
      end: '07:00',
    });
  });

  it('starts a single link at its schedule in the account zone', () => {
    expect(singleLinkStartAt(null, '2026-11-01T12:00:00.000Z', 'Europe/Paris')).toBe(
      '2026-11-01T12:00:00.000Z',
    );
    expect(
      singleLinkStartAt(
        { send_at_local: { date: '2026-12-01', time: '10:00' } },
        '2026-11-01T12:00:00.000Z',
        'Europe/Paris',
      ),
    ).toBe('2026-12-01T09:00:00.000Z');
  });
});
