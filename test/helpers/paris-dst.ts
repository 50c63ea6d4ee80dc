/**
 * A Paris link whose reminder crosses a DST change and lands in quiet hours, due within a minute
 * of now, whatever the date: the reminder is a calendar offset back from an expiry on the other
 * side of Paris's next change of offset, so its instant depends on the zone's rules, and a
 * one-minute quiet window moves it to the next minute boundary.
 */
import { DateTime } from 'luxon';

export const PARIS = 'Europe/Paris';

/** The first instant after `from` (epoch ms) at which `zone`'s UTC offset changes (hour steps). */
export function nextOffsetChange(zone: string, from: number): number {
  const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
  const start = offsetAt(from);
  let at = from;
  while (offsetAt(at) === start) at += 3_600_000;
  return at;
}

export interface ParisDstPolicy {
  /** The policy fields of the create (or update) request. */
  body: {
    expires_at: string;
    reminders: { before_expiry: string[] };
    quiet_hours: { start: string; end: string };
  };
  /** Where the offset alone puts the reminder: inside the quiet window. */
  dueAt: number;
  /** Where it goes out: the end of the quiet window (a minute boundary). */
  windowEnd: number;
  /** The change of offset between the reminder and the expiry. */
  offsetChange: number;
}

/** `now`: epoch ms; the reminder is due 8 to 68 s later. */
export function parisDstPolicy(now: number): ParisDstPolicy {
  const windowEnd = Math.ceil((now + 8000) / 60_000) * 60_000;
  const dueAt = windowEnd - 2000;
  const offsetChange = nextOffsetChange(PARIS, dueAt);
  const days = Math.ceil((offsetChange - dueAt) / 86_400_000) + 1;
  // The same wall-clock time `days` later: back from it by P<days>D is `dueAt` again, which is
  // `days` × 24 h ± 1 h before it in real time, depending on Paris's rules.
  const expires = DateTime.fromMillis(dueAt, { zone: PARIS }).plus({ days });
  const hhmm = (ms: number) => DateTime.fromMillis(ms, { zone: PARIS }).toFormat('HH:mm');
  return {
    body: {
      expires_at: expires.toUTC().toISO() as string,
      reminders: { before_expiry: [`P${days}D`] },
      quiet_hours: { start: hhmm(windowEnd - 60_000), end: hhmm(windowEnd) },
    },
    dueAt,
    windowEnd,
    offsetChange,
  };
}
