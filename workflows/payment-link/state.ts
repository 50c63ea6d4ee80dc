/** The state a link's workflow keeps, and what it carries from one run to the next. */
import type { LinkState, PaymentLinkWorkflowInput } from './contract';
import type { Ledger } from './payments';

export function initialState(input: PaymentLinkWorkflowInput, ledgerInPostgres: boolean): LinkState {
  return {
    terms: input.terms,
    status: 'active',
    amountPaid: 0,
    paymentsCount: 0,
    ...(ledgerInPostgres ? {} : { seenPaymentIds: [] }),
    reminderCursor: input.terms.createdAt,
    closedAt: null,
  };
}

/** A run that resumes an older one's state: the list of seen payment ids stays behind. */
export function resumedState(resumeFrom: LinkState, ledgerInPostgres: boolean): LinkState {
  if (!ledgerInPostgres) return resumeFrom;
  const { seenPaymentIds: _seen, ...state } = resumeFrom;
  return state;
}

/** The figures a payment decision reads, and nothing that grows. */
export const ledgerOf = (state: LinkState): Ledger => {
  const { amount, currency, maxPayments, acceptPartial, minPartialAmount } = state.terms;
  return {
    status: state.status,
    amountPaid: state.amountPaid,
    paymentsCount: state.paymentsCount,
    terms: { amount, currency, maxPayments, acceptPartial, minPartialAmount },
  };
};
