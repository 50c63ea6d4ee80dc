/**
 * When each recipient of a campaign gets their link: pure time maths (luxon), no I/O.
 *
 * - No schedule, or `start_at`: everyone at that instant.
 * - `send_at_local` (`{ date: "2026-12-01", time: "10:00" }`): that wall-clock time in the
 *   recipient's zone (the account's when they have none).
 *   - A time that does not exist that day (spring forward: 02:30 in New York on 2026-03-08) moves
 *     forward to the first instant that exists after the gap (03:00 local), not by the gap's length.
 *   - A time that happens twice (fall back: 01:30 in New York on 2026-11-01) is its first
 *     occurrence (01:30 EDT), so nobody gets it an hour later than the others in their zone.
 * - Then the instant leaves the recipient's quiet hours (in their zone): a send due inside the
 *   window moves to its end.
 * - A send that is already past when the campaign starts: within LATE_SEND_GRACE_MS it goes out at
 *   once (a campaign for 10:00 started at 10:05 still reaches everyone); later than that it is
 *   skipped. A message promised for "10:00 local" arriving at 17:00 is worse than none, and a
 *   campaign manager who wants the late ones can start another campaign for them.
 */
import { DateTime, IANAZone } from 'luxon';
import type { QuietHours } from '../../workflows/payment-link/contract';
import { DEFAULT_QUIET_HOURS } from '../links/create-link';
import { outsideQuietHours } from '../links/reminder-schedule';
import type { CampaignSchedule } from './schema';

/** How late a local-time send may still go out, measured from the campaign's start. */
export const LATE_SEND_GRACE_MS = 15 * 60_000;

export type SendTime =
  | { sendAt: string }
  /** Its local time had passed (by more than the grace) when the campaign started. */
  | { skipped: 'send_time_passed'; dueAt: string };

export interface SendTimeInput {
  schedule: CampaignSchedule | null;
  /** When the campaign was started (UTC ISO). */
  startedAt: string;
  /** The recipient's IANA zone (already falling back to the account's). */
  zone: string;
  quietHours: QuietHours | null;
  lateGraceMs?: number;
}

/** The template's quiet hours as a link would have them: absent is the default window, null none. */
export function templateQuietHours(template: { quiet_hours?: QuietHours | null }): QuietHours | null {
  return template.quiet_hours === undefined ? { ...DEFAULT_QUIET_HOURS } : template.quiet_hours;
}

/** The recipient's zone when it is a valid IANA zone, else the fallback (the account's). */
export function zoneOr(zone: string | null | undefined, fallback: string): string {
  return zone && IANAZone.isValidZone(zone) ? zone : IANAZone.isValidZone(fallback) ? fallback : 'UTC';
}

const MINUTE = 60_000;

/**
 * The UTC instant of a wall-clock `date` + `time` (HH:MM or HH:MM:SS) in `zone`, DST-safe as
 * described at the top of this module.
 */
export function localInstant(date: string, time: string, zone: string): DateTime {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const [hour, minute, second = 0] = time.split(':').map(Number) as [number, number, number?];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const tz = IANAZone.create(zone);
  // Every offset the zone has around that day; a candidate is valid when the zone agrees with it.
  const offsets = new Set([-2, -1, 0, 1, 2].map((d) => tz.offset(wall + d * 12 * 60 * MINUTE)));
  const valid = [...offsets]
    .map((offset) => wall - offset * MINUTE)
    .filter((instant) => tz.offset(instant) * MINUTE === wall - instant)
    .sort((a, b) => a - b);
  if (valid[0] !== undefined) return DateTime.fromMillis(valid[0], { zone: 'utc' });

  // In a gap: the first instant after it is the transition itself. It lies between the wall time
  // read with the offset after the gap and with the offset before it; find it to the millisecond.
  const candidates = [...offsets].map((offset) => wall - offset * MINUTE).sort((a, b) => a - b);
  let lo = candidates[0] as number;
  let hi = candidates[candidates.length - 1] as number;
  const wallAt = (instant: number) => instant + tz.offset(instant) * MINUTE;
  // Invariant: wallAt(lo) < wall <= wallAt(hi).
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallAt(mid) < wall) lo = mid;
    else hi = mid;
  }
  return DateTime.fromMillis(hi, { zone: 'utc' });
}

/** Out of the quiet window, in the recipient's zone. */
function outsideQuiet(instant: DateTime, zone: string, quiet: QuietHours | null): DateTime {
  return outsideQuietHours(instant.setZone(zone), quiet).toUTC();
}

/** One recipient's send instant, or why they are skipped. */
export function sendTimeFor(input: SendTimeInput): SendTime {
  const { schedule, zone, quietHours } = input;
  const startedAt = DateTime.fromISO(input.startedAt, { zone: 'utc' });
  const grace = input.lateGraceMs ?? LATE_SEND_GRACE_MS;
  if (!schedule || 'start_at' in schedule) {
    const at = schedule ? DateTime.fromISO(schedule.start_at, { zone: 'utc' }) : startedAt;
    const from = DateTime.max(at, startedAt);
    return { sendAt: iso(outsideQuiet(from, zone, quietHours)) };
  }
  const { date, time } = schedule.send_at_local;
  const due = outsideQuiet(localInstant(date, time, zone), zone, quietHours);
  if (due >= startedAt) return { sendAt: iso(due) };
  if (startedAt.toMillis() - due.toMillis() > grace) return { skipped: 'send_time_passed', dueAt: iso(due) };
  // A little late: now, but still never inside the quiet window.
  return { sendAt: iso(outsideQuiet(startedAt, zone, quietHours)) };
}

/**
 * At the moment a link is about to be made: null when the recipient may get it now, else when
 * their quiet hours end. A big campaign behind its schedule must not carry sends into the night.
 */
export function quietUntil(now: DateTime, zone: string, quietHours: QuietHours | null): string | null {
  const local = now.setZone(zone);
  const end = outsideQuietHours(local, quietHours);
  return end > local ? iso(end) : null;
}

/** When a single-link campaign creates its link: the schedule read in the account's zone, no quiet hours. */
export function singleLinkStartAt(
  schedule: CampaignSchedule | null,
  startedAt: string,
  accountZone: string,
): string {
  const result = sendTimeFor({
    schedule,
    startedAt,
    zone: accountZone,
    quietHours: null,
    lateGraceMs: Number.POSITIVE_INFINITY,
  });
  return 'sendAt' in result ? result.sendAt : startedAt;
}

const iso = (at: DateTime): string => at.toUTC().toISO() as string;
