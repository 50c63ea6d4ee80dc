import { ApplicationFailure } from '@temporalio/activity';
import type { LinkChange, LinkStore } from '../src/links/link-store';
import { reminderPlan } from '../src/links/reminder-schedule';
import type { PaymentsRecorded, RecordPayments, RecordPaymentsInput } from '../src/payments/record-payment';
import type {
  LinkTerms,
  PersistOutcome,
  ReminderBasis,
  ReminderPlan,
} from '../workflows/payment-link/contract';
import { EventTypes, FailureTypes } from '../workflows/payment-link/contract';

export interface LinkActivityDeps {
  links: LinkStore;
  recordPayments: RecordPayments;
}

/**
 * Postgres refusing the data itself (class 22: data exception; 23502: not null) is not fixed by
 * retrying: fail for good instead of blocking the link's lifecycle. Everything else is retried.
 */
async function nonRetryableOnBadData<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('22') || code === '23502') {
      throw ApplicationFailure.nonRetryable(
        `the database refused the data (${code}): ${(err as Error).message}`,
        FailureTypes.InvalidData,
      );
    }
    throw err;
  }
}

export function createLinkActivities({ links, recordPayments }: LinkActivityDeps) {
  return {
    /** Stores the link row and its `created` event; safe to retry. */
    async persistLink(terms: LinkTerms): Promise<PersistOutcome> {
      return nonRetryableOnBadData(() =>
        links.insertLink(terms, {
          key: 'created',
          type: EventTypes.created,
          data: { amount: terms.amount, currency: terms.currency, expires_at: terms.expiresAt },
        }),
      );
    },

    /** Writes one lifecycle transition (row, payment, events) in one transaction; safe to retry. */
    async recordChange(change: LinkChange): Promise<void> {
      await nonRetryableOnBadData(() => links.applyChange(change));
    },

    /** Records payments in order, de-duplicated by Postgres, settling their invoice or order; safe to retry. */
    async recordPayments(input: RecordPaymentsInput): Promise<PaymentsRecorded> {
      return nonRetryableOnBadData(() => recordPayments(input));
    },

    /**
     * A link's reminder instants, for a run that has none fitting its terms: computed here, with
     * this host's zone rules, and kept in the run's history (no I/O).
     */
    async planReminders(basis: ReminderBasis): Promise<ReminderPlan> {
      return reminderPlan(basis);
    },
  };
}
