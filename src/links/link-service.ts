import { type Client, type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';
import {
  type CancelRequest,
  type Channel,
  type Customer,
  cancelUpdate,
  extendExpiryUpdate,
  FailureTypes,
  type LifecycleSettings,
  type LinkChanges,
  type LinkTerms,
  linkCreatedUpdate,
  linkStateQuery,
  linkWorkflowId,
  resendUpdate,
  SearchAttributes,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import type { AuthenticatedAccount } from '../accounts/accounts';
import { ApiError } from '../api/errors';
import type { CommerceStores } from '../commerce/stores';
import { newId, newLinkToken } from '../ids';
import type { Logger } from '../logger';
import { isTemporalUnavailable } from '../temporal/unavailable';
import {
  type CreatePaymentLinkBody,
  CreatePaymentLinkSchema,
  LinkTermsError,
  MAX_LINK_LIFETIME_DAYS,
  toLinkTerms,
} from './create-link';
import type { LinkRow, LinkStore } from './link-store';
import { rowFromTerms } from './serialize';
import { updateFailureToApiError } from './workflow-errors';
import { linkStaticDetails, linkStaticSummary } from './workflow-metadata';

export interface LinkServiceDeps {
  temporal: Client;
  links: LinkStore;
  taskQueue: string;
  settings: LifecycleSettings;
  /** How long create waits for the workflow to store the row before answering from the terms. */
  createWaitMs: number;
  /** Bounds the workflow start and its look-up when Temporal does not answer; default createWaitMs. */
  temporalRpcTimeoutMs?: number;
  logger: Logger;
  commerce: CommerceStores;
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

/** The workflow's reason for refusing the link, if that is what the error is. */
const refusalOf = (err: unknown): ApplicationFailure | undefined =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure ? err.cause : undefined;

export function createLinkService(deps: LinkServiceDeps) {
  const { temporal, links, taskQueue, settings, createWaitMs, logger, commerce } = deps;

  /** Runs the link workflow's validated updates; a refusal becomes the API error it means. */
  async function throughWorkflow(
    account: AuthenticatedAccount,
    row: LinkRow,
    run: (handle: WorkflowHandle<typeof paymentLinkWorkflow>) => Promise<unknown>,
  ): Promise<void> {
    try {
      await run(temporal.workflow.getHandle<typeof paymentLinkWorkflow>(linkWorkflowId(row.id)));
    } catch (err) {
      throw await updateFailureToApiError(
        err,
        async () => (await links.findLink(account.id, row.id))?.status ?? row.status,
      );
    }
  }

  return {
    /**
     * Starting the workflow is the one and only write: the workflow stores the row. The update
     * that follows resolves once the row exists, so a GET right after the 201 sees the link.
     */
    async create(
      account: AuthenticatedAccount,
      body: CreatePaymentLinkBody,
      extras: { reissuedFrom?: string; linkId?: string } = {},
    ): Promise<LinkRow> {
      let customer: ({ id: string } & Customer) | undefined;
      if (body.customer_id) {
        const stored = await commerce.findCustomer(account.id, body.customer_id);
        if (!stored) throw ApiError.invalid(`No such customer: '${body.customer_id}'`, 'customer_id');
        customer = {
          id: stored.id,
          ...(stored.name ? { name: stored.name } : {}),
          ...(stored.email ? { email: stored.email } : {}),
          ...(stored.phone ? { phone: stored.phone } : {}),
          ...(stored.locale ? { locale: stored.locale } : {}),
          ...(stored.timezone ? { timezone: stored.timezone } : {}),
        };
      }
      let terms: LinkTerms;
      try {
        terms = toLinkTerms(body, {
          id: extras.linkId ?? newId('plink'),
          token: newLinkToken(),
          accountId: account.id,
          accountTimezone: account.timezone,
          now: DateTime.utc(),
          customer,
          reissuedFrom: extras.reissuedFrom,
        });
      } catch (err) {
        if (err instanceof LinkTermsError) throw ApiError.invalid(err.message, err.param);
        throw err;
      }
      // An idempotent retry may find its own link holding the reference: that is not a conflict.
      if (terms.reference && (await links.referenceTaken(account.id, terms.reference, terms.id))) {
        throw duplicateReference(terms.reference);
      }

      const { handle, startedNow } = await startOrFind(temporal, terms, {
        taskQueue,
        settings,
        logger,
        deadlineMs: deps.temporalRpcTimeoutMs ?? createWaitMs,
      });
      // Abandoned after the wait, the update's long-poll is aborted rather than left running.
      const abandon = new AbortController();
      try {
        await within(
          temporal.connection.withAbortSignal(abandon.signal, () => handle.executeUpdate(linkCreatedUpdate)),
          createWaitMs,
        );
      } catch (err) {
        abandon.abort();
        const refused = refusalOf(err);
        if (refused?.type === FailureTypes.DuplicateReference)
          throw duplicateReference(terms.reference ?? '');
        if (refused?.type === FailureTypes.DocumentHasOpenLink)
          throw documentHasOpenLink(String((refused.details ?? [])[0]));
        if (refused?.type === FailureTypes.InvalidData)
          throw ApiError.invalid(
            'The payment link contains data that cannot be stored',
            undefined,
            'invalid_data',
          );
        // Temporal unreachable after a durable start is the same as a slow worker: not a refusal.
        if (!(err instanceof TimedOut) && !isTemporalUnavailable(err)) {
          // A retry (same Idempotency-Key) of a link whose workflow has since finished: its row is the answer.
          const stored = startedNow ? undefined : await links.findLink(account.id, terms.id);
          if (stored) return stored;
          // The workflow refused the link (its row could not be stored): nothing exists to answer with.
          logger.error({ err, linkId: terms.id }, 'the payment link workflow did not store the link');
          throw new ApiError(500, 'api_error', 'link_not_created', 'The payment link could not be created');
        }
        // The start is durable: the workflow stores the link as soon as a worker picks it up.
        logger.warn(
          { linkId: terms.id },
          'link workflow started but not yet persisted; answering from its terms',
        );
        // A workflow started by an earlier attempt (same Idempotency-Key) holds the real terms.
        return rowFromTerms(startedNow ? terms : (await handle.query(linkStateQuery)).terms);
      }
      return (await links.findLink(account.id, terms.id)) ?? rowFromTerms(terms);
    },

    /** 404 unless the link exists and belongs to the account. */
    async get(account: AuthenticatedAccount, linkId: string): Promise<LinkRow> {
      const row = await links.findLink(account.id, linkId);
      if (!row) throw ApiError.notFound('payment link', linkId);
      return row;
    },

    /** Changes go through the workflow's validated updates, never straight to the row. */
    async update(
      account: AuthenticatedAccount,
      linkId: string,
      changes: LinkChanges & { expiresAt?: string },
    ) {
      const row = await this.get(account, linkId);
      const { expiresAt, ...rest } = changes;
      const max = new Date(row.created_at.getTime() + MAX_LINK_LIFETIME_DAYS * 86_400_000);
      if (expiresAt !== undefined && new Date(expiresAt) > max) {
        throw ApiError.invalid(
          `expires_at must be at most ${MAX_LINK_LIFETIME_DAYS} days after creation`,
          'expires_at',
        );
      }
      await throughWorkflow(account, row, async (handle) => {
        if (expiresAt !== undefined) {
          await handle.executeUpdate(extendExpiryUpdate, {
            args: [{ expiresAt: new Date(expiresAt).toISOString() }],
          });
        }
        if (Object.keys(rest).length > 0) await handle.executeUpdate(updateLinkUpdate, { args: [rest] });
      });
      return this.get(account, linkId);
    },

    async cancel(account: AuthenticatedAccount, linkId: string, request: CancelRequest): Promise<LinkRow> {
      const row = await this.get(account, linkId);
      await throughWorkflow(account, row, (handle) =>
        handle.executeUpdate(cancelUpdate, { args: [request] }),
      );
      return this.get(account, linkId);
    },

    /**
     * A customer hit an expired link: the same terms under a new token, with a fresh expiry of
     * the original lifetime, pointing back to the old link.
     */
    async reissue(
      account: AuthenticatedAccount,
      linkId: string,
      expiresIn?: string,
      extras: { newLinkId?: string } = {},
    ): Promise<LinkRow> {
      const old = await this.get(account, linkId);
      if (old.status !== 'expired' && old.status !== 'cancelled') {
        throw ApiError.conflict(
          `Only an expired or cancelled link can be reissued; this one is ${old.status}`,
          'link_open',
        );
      }
      const lifetimeSeconds = Math.round((old.expires_at.getTime() - old.created_at.getTime()) / 1000);
      const body = CreatePaymentLinkSchema.parse({
        amount: old.amount - (old.max_payments === 1 ? old.amount_paid : 0),
        currency: old.currency,
        ...(old.description !== null ? { description: old.description } : {}),
        ...(old.amount_paid === 0 && old.line_items.length > 0
          ? {
              line_items: old.line_items.map((i) => ({
                name: i.name,
                quantity: i.quantity,
                unit_amount: i.unitAmount,
              })),
            }
          : {}),
        ...(old.customer_id
          ? { customer_id: old.customer_id }
          : old.customer
            ? { customer: old.customer }
            : {}),
        expires_in: expiresIn ?? `PT${Math.min(lifetimeSeconds, MAX_LINK_LIFETIME_DAYS * 86_400)}S`,
        max_payments: old.max_payments,
        accept_partial: old.accept_partial,
        ...(old.min_partial_amount !== null ? { min_partial_amount: old.min_partial_amount } : {}),
        channels: old.channels,
        reminders: { after_created: old.reminders.afterCreated, before_expiry: old.reminders.beforeExpiry },
        quiet_hours: old.quiet_hours,
        ...(old.invoice_id ? { invoice_id: old.invoice_id } : {}),
        ...(old.order_id ? { order_id: old.order_id } : {}),
        ...(old.campaign_id ? { campaign_id: old.campaign_id } : {}),
        metadata: old.metadata,
        ...(old.success_url ? { success_url: old.success_url } : {}),
        notify_on_expiry: old.notify_on_expiry,
      });
      return this.create(account, body, { reissuedFrom: old.id, linkId: extras.newLinkId });
    },

    /** `updateId` (an Idempotency-Key's reserved id): Temporal runs an update id once per link. */
    async notify(
      account: AuthenticatedAccount,
      linkId: string,
      channel: Channel,
      updateId?: string,
    ): Promise<LinkRow> {
      const row = await this.get(account, linkId);
      await throughWorkflow(account, row, (handle) =>
        handle.executeUpdate(resendUpdate, { args: [{ channel }], ...(updateId ? { updateId } : {}) }),
      );
      return row;
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
): Promise<{ handle: WorkflowHandle<typeof paymentLinkWorkflow>; startedNow: boolean }> {
  const workflowId = linkWorkflowId(terms.id);
  // A request must not hang on an unreachable server: bound the SDK's own retries.
  const bounded = <T>(fn: () => Promise<T>) =>
    temporal.connection.withDeadline(Date.now() + opts.deadlineMs, fn);
  try {
    const started = await bounded(() =>
      temporal.workflow.start<typeof paymentLinkWorkflow>('paymentLinkWorkflow', {
        workflowId,
        taskQueue: opts.taskQueue,
        args: [{ terms, settings: opts.settings }],
        workflowIdConflictPolicy: 'FAIL',
        // A link's id is never started twice, not even after its first run has closed.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: linkStaticSummary(terms),
        staticDetails: linkStaticDetails(terms),
        typedSearchAttributes: [
          { key: SearchAttributes.LinkStatus, value: 'active' },
          { key: SearchAttributes.AccountId, value: terms.accountId },
          ...(terms.customerId ? [{ key: SearchAttributes.CustomerId, value: terms.customerId }] : []),
          ...(terms.invoiceId ? [{ key: SearchAttributes.InvoiceId, value: terms.invoiceId }] : []),
          ...(terms.campaignId ? [{ key: SearchAttributes.CampaignId, value: terms.campaignId }] : []),
          ...(terms.orderId ? [{ key: SearchAttributes.OrderId, value: terms.orderId }] : []),
          ...(terms.reference ? [{ key: SearchAttributes.Reference, value: terms.reference }] : []),
        ],
      }),
    );
    return { handle: started, startedNow: true };
  } catch (err) {
    const handle = temporal.workflow.getHandle<typeof paymentLinkWorkflow>(workflowId);
    const found = await bounded(() => handle.describe()).then(
      () => 'exists' as const,
      (e: unknown) =>
        (e as { name?: string }).name === 'WorkflowNotFoundError'
          ? ('absent' as const)
          : ('unknown' as const),
    );
    if (found === 'exists') return { handle, startedNow: false };
    opts.logger.error({ err, linkId: terms.id }, 'could not start the payment link workflow');
    throw ApiError.unavailable(
      found === 'absent'
        ? 'The payment link could not be created right now; nothing was stored. Retry later.'
        : 'Temporal did not answer; whether the payment link was created is unknown. Check before retrying.',
    );
  }
}

export type LinkService = ReturnType<typeof createLinkService>;

/** One open link per invoice and per order: the client is told which link holds it. */
export const documentHasOpenLink = (openLinkId: string) =>
  ApiError.conflict(
    `The document already has an open payment link: '${openLinkId}'`,
    'document_has_open_link',
    undefined,
    { payment_link: openLinkId },
  );

const duplicateReference = (reference: string) =>
  ApiError.conflict(
    `Another payment link of this account already has reference '${reference}'`,
    'reference_taken',
    'reference',
  );
