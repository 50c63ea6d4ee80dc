/**
 * Time policy for tests. Sending depends on the local time of day (quiet hours, send windows,
 * `send_at_local`) and reports depend on the local date, so a test that leaves either to a
 * default passes at some hours and fails at others. Two rules keep the suite the same at every
 * hour: a test of sending turns quiet hours off or places its window relative to now
 * (`quietHoursAround`, `quietHoursAwayFrom`), and a test of dates derives them from now in the
 * zone it uses.
 *
 * `npm run test:clock` (tools/test-clock.ts) checks that the rules hold: it runs the
 * time-sensitive files with the tests' accounts in a zone where local now is 02:00, 12:00 and
 * 23:30 (`PAYLINKS_TEST_ZONE`). Every customer and recipient without a zone of its own lives in
 * its account's zone, so a test that leans on a default meets the night or midnight there.
 */
import { DateTime, IANAZone } from 'luxon';
import type { QuietHours } from '../../workflows/payment-link/contract';

/** The zone of the accounts the tests create (the stack's and any other): UTC unless shifted. */
export const TEST_ACCOUNT_ZONE = testAccountZone(process.env.PAYLINKS_TEST_ZONE);

function testAccountZone(value: string | undefined): string {
  if (value === undefined || value === '') return 'UTC';
  if (!IANAZone.isValidZone(value))
    throw new Error(`PAYLINKS_TEST_ZONE: "${value}" is not an IANA time zone`);
  return value;
}

/**
 * Zones with a fixed offset (no DST: local now cannot jump during a run), whole hours from
 * UTC−12 to UTC+14 and the fractional offsets that exist, so any local time of day is within
 * 15 minutes of one of them.
 */
const FIXED_ZONES = [
  ...Array.from({ length: 27 }, (_, i) => i - 12).map((h) =>
    h === 0 ? 'UTC' : `Etc/GMT${h > 0 ? '-' : '+'}${Math.abs(h)}`,
  ),
  'Pacific/Marquesas', // −09:30
  'Asia/Tehran', // +03:30
  'Asia/Kabul', // +04:30
  'Asia/Kolkata', // +05:30
  'Asia/Kathmandu', // +05:45
  'Asia/Yangon', // +06:30
  'Australia/Eucla', // +08:45
  'Australia/Darwin', // +09:30
];

/** The fixed-offset zone whose local time at `now` is nearest to `hhmm` ("02:00"). */
export function zoneWhereLocalTimeIs(hhmm: string, now: DateTime = DateTime.utc()): string {
  const [h, m] = hhmm.split(':').map(Number);
  const target = (h as number) * 60 + (m as number);
  const distance = (zone: string) => {
    const local = now.setZone(zone);
    const diff = Math.abs(local.hour * 60 + local.minute - target);
    return Math.min(diff, 24 * 60 - diff);
  };
  return FIXED_ZONES.reduce((best, zone) => (distance(zone) < distance(best) ? zone : best));
}

const clock = (t: DateTime) => t.toFormat('HH:mm');

/** A quiet window in `zone` that holds now and the next `hours`: nobody may be sent to. */
export function quietHoursAround(zone: string, hours = 2, now: DateTime = DateTime.utc()): QuietHours {
  const local = now.setZone(zone);
  return { start: clock(local.minus({ hours: 1 })), end: clock(local.plus({ hours })) };
}

/** A quiet window in `zone` that starts `hours` from now: sending is allowed until then. */
export function quietHoursAwayFrom(zone: string, hours = 6, now: DateTime = DateTime.utc()): QuietHours {
  const local = now.setZone(zone);
  return { start: clock(local.plus({ hours })), end: clock(local.plus({ hours: hours + 2 })) };
}

/** Today's date (yyyy-MM-dd) in `zone`, and a date `days` away from it. */
export function localDate(zone: string, days = 0, now: DateTime = DateTime.utc()): string {
  return now.setZone(zone).plus({ days }).toISODate() as string;
}
