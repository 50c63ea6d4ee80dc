/**
 * One-line summaries the Temporal UI and `paylinks links history` show for the link's activities
 * and timers. Pure and sandbox-safe; customers' addresses are masked (summaries are stored in
 * history, which operators read). Summaries are user metadata on commands: replay does not compare
 * them, so changing their wording needs no `patched()` (test/workflow/replay.test.ts proves it).
 */
import { maskContact } from '../../src/observability/mask';
import type { Channel, LinkTerms, ScheduledReminder } from './contract';

const MESSAGE_NAMES = {
  link: 'link',
  reminder: 'reminder',
  receipt: 'receipt',
  cancelled: 'cancellation notice',
  expired: 'expiry notice',
} as const;

/** "reminder 2 of 3": the reminder's place in the link's current schedule. */
export function reminderOrdinal(schedule: ScheduledReminder[], at: string): string {
  const index = schedule.findIndex((r) => r.at === at);
  return index < 0 ? 'reminder' : `reminder ${index + 1} of ${schedule.length}`;
}

/** "email link to a•••@example.com", "sms reminder 2 of 3 to +4•••89". */
export function messageSummary(
  terms: LinkTerms,
  schedule: ScheduledReminder[],
  channel: Channel,
  kind: keyof typeof MESSAGE_NAMES,
  scheduledFor?: string,
): string {
  const contact = channel === 'email' ? terms.customer?.email : terms.customer?.phone;
  const what =
    kind === 'reminder' && scheduledFor ? reminderOrdinal(schedule, scheduledFor) : MESSAGE_NAMES[kind];
  return `${channel} ${what}${contact ? ` to ${maskContact(contact)}` : ''}`;
}

/** What the lifecycle's timer waits for: whichever comes first. */
export function wakeSummary(
  schedule: ScheduledReminder[],
  expiresAt: number,
  reminder: ScheduledReminder | undefined,
): string {
  if (reminder && Date.parse(reminder.at) < expiresAt) return reminderOrdinal(schedule, reminder.at);
  return 'expiry';
}
