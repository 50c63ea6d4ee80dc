import { createHash } from 'node:crypto';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  WorkflowNotFoundError,
  type WorkflowStartOptions,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
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
  linkWorkflowId,
  type PaymentLinkWorkflowInput,
  type ReminderBasis,
  resendUpdate,
  SearchAttributes,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import type { paymentLinkWorkflow } from '../../workflows/payment-link/workflow';
import type { AuthenticatedAccount } from '../accounts/accounts';
import { ApiError } from '../api/errors';
import { checkDocumentTerms } from '../commerce/document-terms';
import type { CommerceStores } from '../commerce/stores';
import { derivedId, ID_PREFIX, newId, newLinkToken } from '../ids';
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
import { reminderPlan } from './reminder-schedule';
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
  /**
   * What the account's payment provider cannot charge of these terms (Stripe's units), as the
   * field to name and why; undefined: nothing. Left out: no provider rule is checked.
   */
  providerTermsProblem?: (
    accountId: string,
    terms: LinkTerms,
  ) => Promise<{ param: string; message: string } | undefined>;
  /**
   * The clock a link's creation and expiry are read from, and with them its reminder instants;
   * default the system's. Tests fix it to compute a link's plan at a chosen instant (across a DST
   * change) without waiting for one.
   */
  now?: () => Date;
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

/** The API error a refused create means (its row could not be stored), if that is what `err` is. */
function refusalError(err: unknown, terms: LinkTerms): ApiError | undefined {
  const refused = refusalOf(err);
  if (refused?.type === FailureTypes.DuplicateReference) return duplicateReference(terms.reference ?? '');
  if (refused?.type === FailureTypes.DocumentHasOpenLink)
    return documentHasOpenLink(String((refused.details ?? [])[0]));
  if (refused?.type === FailureTypes.InvalidData)
    return ApiError.invalid(
      'The payment link contains data that cannot be stored',
      undefined,
      'invalid_data',
    );
  return undefined;
}

export function createLinkService(deps: LinkServiceDeps) {
  const { temporal, links, taskQueue, settings, createWaitMs, logger, commerce } = deps;
  const now = deps.now ?? (() => new Date());

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

  /** Is the link's workflow there? Bounded: an unreachable server is "unknown", not "absent". */
  async function lookUp(workflowId: string, deadlineMs: number): Promise<'exists' | 'absent' | 'unknown'> {
    return temporal.connection
      .withDeadline(Date.now() + deadlineMs, () => temporal.workflow.getHandle(workflowId).describe())
      .then(
        () => 'exists' as const,
        (e: unknown) => ((e as { name?: string }).name === 'WorkflowNotFoundError' ? 'absent' : 'unknown'),
      );
  }

  /**
   * The terms the link's run was started with: this request's, or those of an earlier attempt
   * with the same link id (an Idempotency-Key retry). Read from the start event, so no worker is
   * needed.
   */
  async function startedTerms(workflowId: string, deadlineMs: number): Promise<LinkTerms> {
    const { history } = await temporal.connection.withDeadline(Date.now() + deadlineMs, () =>
      temporal.workflowService.getWorkflowExecutionHistory({
        namespace: temporal.options.namespace,
        execution: { workflowId },
        maximumPageSize: 1,
      }),
    );
    const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input = await decodeOptionalSinglePayload<PaymentLinkWorkflowInput>(
      temporal.options.loadedDataConverter,
      payload,
    );
    if (!input?.terms) throw new Error(`the start event of ${workflowId} holds no link terms`);
    return input.terms;
  }

  /**
   * Starts the link's workflow and waits for its row in one RPC (update-with-start): the first
   * workflow task stores the row (a local activity) and completes the `linkCreated` update, so the
   * 201 goes out once a GET would find the link. The start is the only write and is durable on its
   * own: with no worker to store the row within `createWaitMs`, the answer is built from the
   * terms the run was started with.
   */
  async function createThroughWorkflow(account: AuthenticatedAccount, terms: LinkTerms): Promise<LinkRow> {
    const workflowId = linkWorkflowId(terms.id);
    // The start itself gets its full time even when the wait for a worker is shorter.
    const startBudgetMs = Math.max(deps.temporalRpcTimeoutMs ?? createWaitMs, createWaitMs);
    const begun = Date.now();
    // Abandoned after the wait, the update's long-poll is aborted rather than left running.
    const abandon = new AbortController();
    const creating = temporal.connection.withAbortSignal(abandon.signal, () =>
      temporal.workflow.executeUpdateWithStart(linkCreatedUpdate, {
        startWorkflowOperation: startOperation(terms, taskQueue, settings),
        // One id per link: a retry's update is the first one again (answered, not run or billed twice).
        updateId: LINK_CREATED_UPDATE_ID,
      }),
    );
    creating.catch(() => undefined); // awaited below; a late rejection after the answer is expected
    const stored = async () => (await links.findLink(account.id, terms.id)) ?? rowFromTerms(terms);

    let failure: unknown;
    try {
      await within(creating, createWaitMs);
      return await stored();
    } catch (err) {
      failure = err;
    }
    const refusal = refusalError(failure, terms);
    if (refusal) throw refusal;
    if (failure instanceof WorkflowExecutionAlreadyStartedError) {
      // The link id's run has ended: a retry (same Idempotency-Key) of a link closed since, or refused.
      const row = await links.findLink(account.id, terms.id);
      if (row) return row;
      logger.error({ err: failure, linkId: terms.id }, 'the payment link workflow did not store the link');
      throw new ApiError(500, 'api_error', 'link_not_created', 'The payment link could not be created');
    }
    if (!(failure instanceof TimedOut) && !isTemporalUnavailable(failure)) {
      abandon.abort();
      logger.error({ err: failure, linkId: terms.id }, 'the payment link workflow did not store the link');
      throw new ApiError(500, 'api_error', 'link_not_created', 'The payment link could not be created');
    }

    // No row in time: a slow or missing worker, or a slow or unreachable Temporal. The start
    // decides the answer. Not there yet, it may still be on its way: it gets the rest of its time.
    let found = await lookUp(workflowId, startBudgetMs);
    const rest = startBudgetMs - (Date.now() - begun);
    if (found !== 'exists' && rest > 0) {
      const late = await within(creating, rest).then(
        () => undefined,
        (err: unknown) => err,
      );
      if (late === undefined) return stored();
      const lateRefusal = refusalError(late, terms);
      if (lateRefusal) throw lateRefusal;
      abandon.abort();
      found = await lookUp(workflowId, startBudgetMs);
    }
    abandon.abort();
    if (found === 'exists') {
      logger.warn(
        { linkId: terms.id },
        'link workflow started but not yet persisted; answering from its terms',
      );
      const started = await startedTerms(workflowId, startBudgetMs).catch((err: unknown) => {
        logger.error({ err, linkId: terms.id }, 'could not read the started link workflow back');
        throw ApiError.unavailable(
          'The payment link was created but Temporal did not answer with it; retry with the same Idempotency-Key.',
        );
      });
      return rowFromTerms(started);
    }
    logger.error({ err: failure, linkId: terms.id }, 'could not start the payment link workflow');
    throw ApiError.unavailable(
      found === 'absent'
        ? 'The payment link could not be created right now; nothing was stored. Retry later.'
        : 'Temporal did not answer; whether the payment link was created is unknown. Check before retrying.',
    );
  }

  /** The link's terms from a create request: its customer looked up, its fields checked (400). */
  async function termsFor(
    account: AuthenticatedAccount,
    body: CreatePaymentLinkBody,
    extras: { reissuedFrom?: string; linkId?: string },
  ): Promise<LinkTerms> {
    // A link for an invoice or an order fits it, or nothing is started (400 naming the field).
    await checkDocumentTerms(commerce, account.id, body);
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
        now: DateTime.fromJSDate(now(), { zone: 'utc' }),
        customer,
        reissuedFrom: extras.reissuedFrom,
      });
    } catch (err) {
      if (err instanceof LinkTermsError) throw ApiError.invalid(err.message, err.param);
      throw err;
    }
    const problem = await deps.providerTermsProblem?.(account.id, terms);
    if (problem) throw ApiError.invalid(`Invalid ${problem.param}: ${problem.message}`, problem.param);
    return terms;
  }

  /**
   * What an earlier reissue did with this replacement id: nothing yet (undefined: start it, or
   * join its running workflow), made the link (its row), or was refused (its run closed without
   * storing a row).
   */
  async function reissueAttempt(
    account: AuthenticatedAccount,
    newLinkId: string,
  ): Promise<LinkRow | 'refused' | undefined> {
    const row = await links.findLink(account.id, newLinkId);
    if (row) return row;
    let running: boolean;
    try {
      const { status } = await temporal.workflow.getHandle(linkWorkflowId(newLinkId)).describe();
      running = status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      if (isTemporalUnavailable(err))
        throw ApiError.unavailable(
          'The payment link could not be reissued right now; nothing was made. Retry later.',
        );
      throw err;
    }
    if (running) return undefined;
    // Closed: its row may have been stored between the look-up above and now.
    return (await links.findLink(account.id, newLinkId)) ?? 'refused';
  }

  return {
    /**
     * Starting the workflow is the one and only write: the workflow stores the row, and the
     * update sent with the start resolves once the row exists, so a GET right after the 201 sees
     * the link.
     */
    async create(
      account: AuthenticatedAccount,
      body: CreatePaymentLinkBody,
      extras: { reissuedFrom?: string; linkId?: string } = {},
    ): Promise<LinkRow> {
      const terms = await termsFor(account, body, extras);
      // An idempotent retry may find its own link holding the reference: that is not a conflict.
      if (terms.reference && (await links.referenceTaken(account.id, terms.reference, terms.id))) {
        throw duplicateReference(terms.reference);
      }

      return createThroughWorkflow(account, terms);
    },

    /**
     * Starts the link's workflow and returns once the start is durable, without waiting for the
     * workflow to store the row: the path for callers that make many links and learn of a
     * refusal another way (campaigns, see activities/campaigns.ts). Same terms, workflow type,
     * task queue, search attributes and id policies as `create`: a retry with the same link id
     * finds the run its first attempt started (running, or closed: then `closed` is true and the
     * caller decides from the row whether the link was stored or refused). Does not check the
     * reference: the workflow refuses a taken one, and the caller must not use this path for a
     * link that can be refused unless it checks the outcome.
     */
    async startOnly(
      account: AuthenticatedAccount,
      body: CreatePaymentLinkBody,
      extras: { linkId: string },
    ): Promise<{ id: string; closed: boolean }> {
      const terms = await termsFor(account, body, extras);
      try {
        await temporal.workflow.start<typeof paymentLinkWorkflow>(
          'paymentLinkWorkflow',
          startOptions(terms, taskQueue, settings),
        );
        return { id: terms.id, closed: false };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return { id: terms.id, closed: true };
        throw err;
      }
    },

    /**
     * A link started with `startOnly` whose row is not there: null while its run is still open
     * (the row is on its way), otherwise why the run ended without storing it (the workflow's
     * refusal, e.g. `duplicate_reference`).
     */
    async whyNotStored(linkId: string): Promise<string | null> {
      const handle = temporal.workflow.getHandle<typeof paymentLinkWorkflow>(linkWorkflowId(linkId));
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') return null;
      const result: unknown = await handle.result().catch(() => undefined);
      const reason = (result as { reason?: unknown } | undefined)?.reason;
      return typeof reason === 'string' ? reason : `workflow ${status.name.toLowerCase()}`;
    },

    /** 404 unless the link exists and belongs to the account. */
    async get(account: AuthenticatedAccount, linkId: string): Promise<LinkRow> {
      const row = await links.findLink(account.id, linkId);
      if (!row) throw ApiError.notFound('payment link', linkId);
      return row;
    },

    /**
     * Changes go through the workflow's validated updates, never straight to the row. `updateId`
     * (an Idempotency-Key's reserved id): a retry is the same updates again, which Temporal runs
     * once; without one each request is a change of its own (the same description set again later
     * is a new change).
     */
    async update(
      account: AuthenticatedAccount,
      linkId: string,
      changes: LinkChanges & { expiresAt?: string },
      updateId?: string,
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
      // The reminder instants of the terms as each change leaves them, computed here so that the
      // workflow never reads a zone rule (`precomputed-instants`; older runs ignore them). Read
      // from the row: if another change lands first the workflow finds the basis stale and plans
      // the instants itself.
      let basis = basisOfRow(row);
      await throughWorkflow(account, row, async (handle) => {
        if (expiresAt !== undefined) {
          basis = { ...basis, expiresAt: new Date(expiresAt).toISOString() };
          await handle.executeUpdate(extendExpiryUpdate, {
            args: [{ expiresAt: basis.expiresAt }, reminderPlan(basis)],
            ...(updateId ? { updateId: `${updateId}-extend` } : {}),
          });
        }
        if (Object.keys(rest).length > 0) {
          const replans = rest.reminders !== undefined || rest.quietHours !== undefined;
          basis = {
            ...basis,
            ...(rest.reminders !== undefined ? { reminders: rest.reminders } : {}),
            ...(rest.quietHours !== undefined ? { quietHours: rest.quietHours } : {}),
          };
          await handle.executeUpdate(updateLinkUpdate, {
            args: replans ? [rest, reminderPlan(basis)] : [rest],
            ...(updateId ? { updateId: `${updateId}-update` } : {}),
          });
        }
      });
      return this.get(account, linkId);
    },

    /**
     * `updateId`: an Idempotency-Key's reserved id; without one the id is the request's own, so a
     * cancel sent again after its answer was lost is the update Temporal already ran.
     */
    async cancel(
      account: AuthenticatedAccount,
      linkId: string,
      request: CancelRequest,
      updateId?: string,
    ): Promise<LinkRow> {
      const row = await this.get(account, linkId);
      await throughWorkflow(account, row, (handle) =>
        handle.executeUpdate(cancelUpdate, {
          args: [request],
          updateId: updateId ?? cancelUpdateId(request),
        }),
      );
      return this.get(account, linkId);
    },

    /**
     * A customer hit an expired link: the same terms under a new token, with a fresh expiry of
     * the original lifetime, pointing back to the old link.
     *
     * Once per link: one debt, one live link. The replacement's id is derived from the old link's,
     * so concurrent reissues start the same workflow (Temporal joins them into one run) and a
     * later one finds the replacement made (`created: false`), whatever its status since. A
     * replacement its workflow refused (the invoice had another open link then) stores no row;
     * the next attempt's id is then tried, so the reissue can be made once that link closes.
     */
    async reissue(
      account: AuthenticatedAccount,
      linkId: string,
      expiresIn?: string,
    ): Promise<{ link: LinkRow; created: boolean }> {
      const old = await this.get(account, linkId);
      if (old.status !== 'expired' && old.status !== 'cancelled') {
        throw ApiError.conflict(
          `Only an expired or cancelled link can be reissued; this one is ${old.status}`,
          'link_open',
        );
      }
      const made = await links.findReplacement(account.id, old.id);
      if (made) return { link: made, created: false };
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
      for (let attempt = 0; attempt < MAX_REISSUE_ATTEMPTS; attempt++) {
        const newLinkId = derivedId(ID_PREFIX.paymentLink, 'reissue', account.id, old.id, String(attempt));
        const earlier = await reissueAttempt(account, newLinkId);
        if (earlier === 'refused') continue;
        if (earlier) return { link: earlier, created: false };
        return {
          link: await this.create(account, body, { reissuedFrom: old.id, linkId: newLinkId }),
          created: true,
        };
      }
      logger.error({ linkId: old.id }, 'every reissue attempt of the link was refused');
      throw new ApiError(500, 'api_error', 'link_not_created', 'The payment link could not be reissued');
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
 * A cancel's update id when the client sent no Idempotency-Key: the request itself (reason and
 * notice), so the same request again is the same update and another one is a cancel of its own.
 */
export function cancelUpdateId(request: CancelRequest): string {
  const canonical = JSON.stringify([request.reason ?? null, request.notifyCustomer === true]);
  return `cancel-${createHash('sha256').update(canonical).digest('base64url').slice(0, 22)}`;
}

/** Replacement ids tried per reissued link: each failed one was a refusal (a document's open link). */
const MAX_REISSUE_ATTEMPTS = 20;

/** What a link's reminder instants are computed from, as its row holds it. */
const basisOfRow = (row: LinkRow): ReminderBasis => ({
  createdAt: row.created_at.toISOString(),
  expiresAt: row.expires_at.toISOString(),
  reminders: row.reminders,
  quietHours: row.quiet_hours,
  timezone: row.timezone,
});

/** The update the API sends with a link's start; fixed, so that Temporal de-duplicates retries. */
const LINK_CREATED_UPDATE_ID = 'link-created';

/**
 * The start of a link's workflow. `USE_EXISTING`: a retry of the same link id (Idempotency-Key)
 * joins the run its first attempt started instead of failing; `REJECT_DUPLICATE`: a link's id is
 * never started twice, not even after its first run has closed.
 */
function startOperation(terms: LinkTerms, taskQueue: string, settings: LifecycleSettings) {
  return new WithStartWorkflowOperation<typeof paymentLinkWorkflow>(
    'paymentLinkWorkflow',
    startOptions(terms, taskQueue, settings),
  );
}

/** The options of a link's start, the same whether the caller waits for its row or not. */
function startOptions(terms: LinkTerms, taskQueue: string, settings: LifecycleSettings) {
  return {
    workflowId: linkWorkflowId(terms.id),
    taskQueue,
    // The reminder instants are computed here, with this host's zone rules, and carried by the
    // run (`precomputed-instants`).
    args: [{ terms, settings, reminderPlan: reminderPlan(terms) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
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
  } satisfies WorkflowStartOptions<typeof paymentLinkWorkflow>;
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
