/**
 * The ways the payment-link workflow refuses or survives a request: the failures the API maps to
 * HTTP answers, and what Postgres refusing data looks like from inside the workflow.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureTypes, type LinkStatus, type PersistOutcome } from './contract';

export const terminalFailure = (status: LinkStatus) =>
  ApplicationFailure.create({
    type: FailureTypes.LinkTerminal,
    message: `the payment link is ${status}`,
    nonRetryable: true,
  });

/** `param`, when known, names the field the API reports as wrong. */
export const invalidChange = (message: string, param?: string) =>
  ApplicationFailure.create({
    type: FailureTypes.InvalidChange,
    message,
    nonRetryable: true,
    details: param ? [param] : [],
  });

/** A write's failure as the workflow sees it: an activity's is wrapped, a local activity's is not. */
export type WriteFailure = ActivityFailure | ApplicationFailure;

/** Postgres refused the data itself: retrying cannot help, the link must carry on without it. */
export const isInvalidData = (err: unknown): err is WriteFailure =>
  (err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === FailureTypes.InvalidData) ||
  (err instanceof ApplicationFailure && err.type === FailureTypes.InvalidData);

/** What Postgres said about the data it refused. */
export const refusedDataMessage = (err: WriteFailure): string | undefined =>
  err instanceof ActivityFailure ? err.cause?.message : err.message;

/** Text Postgres will store: no NUL, no lone surrogate. */
export const storable = (text: string): string => text.toWellFormed().replaceAll('\u0000', '\ufffd');

/** Older activities answered with a bare string. */
export const persistOutcome = (result: PersistOutcome | 'created' | 'duplicate_reference'): PersistOutcome =>
  typeof result === 'string' ? { outcome: result } : result;

export function refusal(
  persisted: Exclude<PersistOutcome, { outcome: 'created' }>,
  reference: string | null,
) {
  switch (persisted.outcome) {
    case 'duplicate_reference':
      return ApplicationFailure.create({
        type: FailureTypes.DuplicateReference,
        message: `another payment link of this account already has reference "${reference}"`,
        nonRetryable: true,
      });
    case 'document_has_open_link':
      return ApplicationFailure.create({
        type: FailureTypes.DocumentHasOpenLink,
        message: `the document already has an open payment link: '${persisted.openLinkId}'`,
        details: [persisted.openLinkId],
        nonRetryable: true,
      });
    case 'invalid_data':
      return ApplicationFailure.create({
        type: FailureTypes.InvalidData,
        message: persisted.message,
        nonRetryable: true,
      });
  }
}
