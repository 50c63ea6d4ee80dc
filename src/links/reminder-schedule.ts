/**
 * When reminders go out: the policy maths, run where the host's zone rules may change without
 * changing a running link's replay. The API computes a link's instants with it at create and at
 * the update that changes them, the `planReminders` activity when a run has none (a start by an
 * older API, a run resumed from a legacy one); the workflow only carries the result
 * (`ReminderPlan`, `precomputed-instants`). A change here reaches the links planned after it;
 * runs from before the patch replay on their frozen copy (workflows/payment-link/legacy/).
 *
 * Offsets are ISO 8601 durations applied in the customer's zone, so calendar units keep the
 * wall-clock time across DST ("P1D" after 09:00 is 09:00 the next day) while clock units are
 * exact ("PT24H" is 24 hours); a calendar offset that lands in a spring-forward gap moves on by the
 * gap's length (02:30 that does not exist is 03:30), as Temporal's and luxon's "compatible"
 * arithmetic does. A reminder that lands in quiet hours moves to the first moment outside them; one
 * that would then land at or after expiry is dropped.
 */
import { DateTime, Duration } from 'luxon';
import type {
  QuietHours,
  ReminderBasis,
  ReminderPlan,
  ScheduledReminder,
} from '../../workflows/payment-link/contract';
import { basisOf } from '../../workflows/payment-link/reminder-plan';

export type { ScheduledReminder };
export type ReminderScheduleInput = ReminderBasis;

const minutesOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

export function isInQuietHours(local: DateTime, quiet: QuietHours | null): boolean {
  if (!quiet) return false;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return false;
  const now = local.hour * 60 + local.minute;
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/**
 * The window's end on `day`'s date. An end that does not exist that day (it falls in a
 * spring-forward gap, 02:30 in Paris on the last Sunday of March) is the end of the gap: at 03:00
 * the wall clock is past 02:30, so the window is over; luxon's `set` would say 03:30.
 */
function windowEnd(day: DateTime, end: number): DateTime {
  const hour = Math.floor(end / 60);
  const minute = end % 60;
  const at = day.set({ hour, minute, second: 0, millisecond: 0 });
  if (at.hour === hour && at.minute === minute) return at;
  // luxon read the missing time in the offset before the gap, so the change of offset is less
  // than the gap's length before `at`: the first minute already on the new offset.
  const offsetAfter = at.offset;
  let before = at.toMillis() - (offsetAfter - at.minus({ hours: 3 }).offset) * 60_000; // old offset
  let after = at.toMillis(); // new offset
  while (after - before > 60_000) {
    const mid = before + Math.floor((after - before) / 120_000) * 60_000;
    if (at.zone.offset(mid) === offsetAfter) after = mid;
    else before = mid;
  }
  return DateTime.fromMillis(after, { zone: at.zone });
}

/** The first instant at or after `local` that is outside quiet hours. */
export function outsideQuietHours(local: DateTime, quiet: QuietHours | null): DateTime {
  if (!quiet || !isInQuietHours(local, quiet)) return local;
  const end = minutesOf(quiet.end);
  const endToday = windowEnd(local, end);
  if (endToday > local) return endToday;
  return windowEnd(local.plus({ days: 1 }), end);
}

export function reminderSchedule(input: ReminderScheduleInput): ScheduledReminder[] {
  const zone = input.timezone;
  const created = DateTime.fromISO(input.createdAt, { zone });
  const expires = DateTime.fromISO(input.expiresAt, { zone });
  const candidates: { at: DateTime; source: string }[] = [];
  for (const iso of input.reminders.afterCreated) {
    const d = Duration.fromISO(iso);
    if (d.isValid) candidates.push({ at: created.plus(d), source: `after_created:${iso}` });
  }
  for (const iso of input.reminders.beforeExpiry) {
    const d = Duration.fromISO(iso);
    if (d.isValid) candidates.push({ at: expires.minus(d), source: `before_expiry:${iso}` });
  }

  const byInstant = new Map<number, ScheduledReminder>();
  for (const c of candidates) {
    if (c.at <= created) continue;
    const at = outsideQuietHours(c.at, input.quietHours);
    if (at >= expires) continue;
    const ms = at.toMillis();
    // Two offsets that land on the same instant (quiet hours fold them together) send once.
    if (!byInstant.has(ms)) byInstant.set(ms, { at: at.toUTC().toISO() as string, source: c.source });
  }
  return [...byInstant.entries()].sort(([a], [b]) => a - b).map(([, r]) => r);
}

/** A link's reminder instants, with what they were computed from: what the workflow carries. */
export function reminderPlan(source: ReminderBasis): ReminderPlan {
  const basis = basisOf(source);
  return { basis, reminders: reminderSchedule(basis) };
}
