/**
 * What the workflow does with a link's reminder instants (`precomputed-instants`): it carries
 * them, it never computes them. No zone rules here (no luxon, no Intl): instants are compared as
 * UTC milliseconds, so a new Node image or luxon release cannot change what a run decides. The
 * instants come from src/links/reminder-schedule.ts, run by the API or the `planReminders` activity.
 */
import type { QuietHours, ReminderBasis, ReminderPlan, ScheduledReminder } from './contract';

/** The fields of a link's terms its reminder instants depend on. */
export const basisOf = (terms: ReminderBasis): ReminderBasis => ({
  createdAt: terms.createdAt,
  expiresAt: terms.expiresAt,
  reminders: {
    afterCreated: [...terms.reminders.afterCreated],
    beforeExpiry: [...terms.reminders.beforeExpiry],
  },
  quietHours: terms.quietHours ? { start: terms.quietHours.start, end: terms.quietHours.end } : null,
  timezone: terms.timezone,
});

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const sameQuietHours = (a: QuietHours | null, b: QuietHours | null) =>
  a === null || b === null ? a === b : a.start === b.start && a.end === b.end;

/** Same instants and policy, whatever the spelling of the instants (a row's or an update's ISO). */
export const sameBasis = (a: ReminderBasis, b: ReminderBasis): boolean =>
  Date.parse(a.createdAt) === Date.parse(b.createdAt) &&
  Date.parse(a.expiresAt) === Date.parse(b.expiresAt) &&
  a.timezone === b.timezone &&
  sameList(a.reminders.afterCreated, b.reminders.afterCreated) &&
  sameList(a.reminders.beforeExpiry, b.reminders.beforeExpiry) &&
  sameQuietHours(a.quietHours ?? null, b.quietHours ?? null);

/** The plan, if it was computed for these terms (a stale or malformed one is not). */
export function planFor(terms: ReminderBasis, plan: ReminderPlan | undefined): ReminderPlan | undefined {
  if (!plan?.basis?.reminders || !Array.isArray(plan.reminders)) return undefined;
  return sameBasis(plan.basis, terms) ? plan : undefined;
}

/** The first reminder strictly after `cursor` (ISO), or undefined. */
export function nextReminder(schedule: ScheduledReminder[], cursor: string): ScheduledReminder | undefined {
  const after = Date.parse(cursor);
  return schedule.find((r) => Date.parse(r.at) > after);
}
