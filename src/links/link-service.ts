import { type Client, type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';
import {
  FailureTypes,
  type LifecycleSettings,
  type LinkTerms,
  linkCreatedUpdate,
  linkWorkflowId,
  SearchAttributes,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import type { AuthenticatedAccount } from '../accounts/accounts';
import { ApiError } from '../api/errors';
import { newId, newLinkToken } from '../ids';
import type { Logger } from '../logger';
import { type CreatePaymentLinkBody, LinkTermsError, toLinkTerms } from './create-link';
import type { LinkRow, LinkStore } from './link-store';
import { rowFromTerms } from './serialize';

export interface LinkServiceDeps {
  temporal: Client;
  links: LinkStore;
  taskQueue: string;
  settings: LifecycleSettings;
  /** How long create waits for the workflow to store the row before answering from the terms. */
  createWaitMs: number;
  logger: Logger;
}

class TimedOut extends Error {}

async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const failureType = (err: unknown): string | undefined =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure
    ? (err.cause.type ?? undefined)
    : undefined;

export function createLinkService(deps: LinkServiceDeps) {
  const { temporal, links, taskQueue, settings, createWaitMs, logger } = deps;

  return {
    /**
     * Starting the workflow is the one and only write: the workflow stores the row. The update
     * that follows resolves once the row exists, so a GET right after the 201 sees the link.
     */
    async create(account: AuthenticatedAccount, body: CreatePaymentLinkBody): Promise<LinkRow> {
      let terms: LinkTerms;
      try {
        terms = toLinkTerms(body, {
          id: newId('plink'),
          token: newLinkToken(),
          accountId: account.id,
          accountTimezone: account.timezone,
          now: DateTime.utc(),
        });
      } catch (err) {
        if (err instanceof LinkTermsError) throw ApiError.invalid(err.message, err.param);
        throw err;
      }
      if (terms.reference && (await links.referenceTaken(account.id, terms.reference))) {
        throw duplicateReference(terms.reference);
      }

      const handle = await startOrFind(temporal, terms, {
        taskQueue,
        settings,
        logger,
        deadlineMs: createWaitMs,
      });
      try {
        await within(handle.executeUpdate(linkCreatedUpdate), createWaitMs);
      } catch (err) {
        if (failureType(err) === FailureTypes.DuplicateReference)
          throw duplicateReference(terms.reference ?? '');
        // The start is durable: the workflow stores the link as soon as a worker picks it up.
        logger.warn(
          { err, linkId: terms.id },
          'link workflow started but not yet persisted; answering from its terms',
        );
        return rowFromTerms(terms);
      }
      return (await links.findLink(account.id, terms.id)) ?? rowFromTerms(terms);
    },
  };
}

/**
 * Starts the link's workflow. A failed start may still have reached the server (a timeout on
 * the answer), so the workflow id is looked up before telling the client nothing exists.
 */
async function startOrFind(
  temporal: Client,
  terms: LinkTerms,
  opts: { taskQueue: string; settings: LifecycleSettings; logger: Logger; deadlineMs: number },
): Promise<WorkflowHandle<typeof paymentLinkWorkflow>> {
  const workflowId = linkWorkflowId(terms.id);
  // A request must not hang on an unreachable server: bound the SDK's own retries.
  const bounded = <T>(fn: () => Promise<T>) =>
    temporal.connection.withDeadline(Date.now() + opts.deadlineMs, fn);
  try {
    return await bounded(() =>
      temporal.workflow.start<typeof paymentLinkWorkflow>('paymentLinkWorkflow', {
        workflowId,
        taskQueue: opts.taskQueue,
        args: [{ terms, settings: opts.settings }],
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: SearchAttributes.LinkStatus, value: 'active' },
          { key: SearchAttributes.AccountId, value: terms.accountId },
          ...(terms.customerId ? [{ key: SearchAttributes.CustomerId, value: terms.customerId }] : []),
          ...(terms.invoiceId ? [{ key: SearchAttributes.InvoiceId, value: terms.invoiceId }] : []),
          ...(terms.campaignId ? [{ key: SearchAttributes.CampaignId, value: terms.campaignId }] : []),
        ],
      }),
    );
  } catch (err) {
    const handle = temporal.workflow.getHandle<typeof paymentLinkWorkflow>(workflowId);
    const exists = await bounded(() => handle.describe()).then(
      () => true,
      () => false,
    );
    if (exists) return handle;
    opts.logger.error({ err, linkId: terms.id }, 'could not start the payment link workflow');
    throw ApiError.unavailable(
      'The payment link could not be created right now; nothing was stored. Retry later.',
    );
  }
}

export type LinkService = ReturnType<typeof createLinkService>;

const duplicateReference = (reference: string) =>
  ApiError.conflict(
    `Another payment link of this account already has reference '${reference}'`,
    'reference_taken',
    'reference',
  );
