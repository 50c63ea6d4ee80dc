/**
 * FROZEN: the reminder rules exactly as runs started before `precomputed-instants` computed them
 * inside the workflow (workflows/payment-link/reminders.ts at 395c489). Those runs replay on these
 * rules to their end, so this file never changes: a rule change goes into
 * src/links/reminder-schedule.ts, which only new runs' instants come from. Delete it with the
 * legacy path once no run without the marker is open (docs/WORKFLOW-VERSIONS.md).
 *
 * Offsets are ISO 8601 durations applied in the customer's zone, so calendar units keep the
 * wall-clock time across DST ("P1D" after 09:00 is 09:00 the next day) while clock units are
 * exact ("PT24H" is 24 hours). A reminder that lands in quiet hours moves to the window's end;
 * one that would then land at or after expiry is dropped.
 */
import { DateTime, Duration } from 'luxon';
import type { QuietHours, ReminderPolicy } from '../contract';

export interface ReminderScheduleInput {
  createdAt: string;
  expiresAt: string;
  reminders: ReminderPolicy;
  quietHours: QuietHours | null;
  timezone: string;
}

export interface ScheduledReminder {
  /** UTC instant, ISO 8601. */
  at: string;
  /** The offset it came from, for the timeline: "after_created:P1D", "before_expiry:PT24H". */
  source: string;
}

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

/** The first instant at or after `local` that is outside quiet hours. */
export function outsideQuietHours(local: DateTime, quiet: QuietHours | null): DateTime {
  if (!quiet || !isInQuietHours(local, quiet)) return local;
  const end = minutesOf(quiet.end);
  const endToday = local.set({ hour: Math.floor(end / 60), minute: end % 60, second: 0, millisecond: 0 });
  if (endToday > local) return endToday;
  return local
    .plus({ days: 1 })
    .set({ hour: Math.floor(end / 60), minute: end % 60, second: 0, millisecond: 0 });
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

/** The first reminder strictly after `cursor` (ISO), or undefined. */
export function nextReminder(schedule: ScheduledReminder[], cursor: string): ScheduledReminder | undefined {
  const after = Date.parse(cursor);
  return schedule.find((r) => Date.parse(r.at) > after);
}
