/**
 * One payment link's lifecycle, from creation to paid, completed, expired or cancelled.
 *
 * The main loop is the only writer of state. Signal and update handlers validate and enqueue;
 * the loop applies commands one at a time, so a payment, a cancel and an expiry can never
 * interleave. Messages to the customer run in a cancellable scope: the moment the link closes,
 * every pending reminder is cancelled.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import type { NotifyCustomerInput } from '../../activities/notifications';
import type { LinkChange } from '../../src/links/link-store';
import type { PaymentsRecorded } from '../../src/payments/record-payment';
import {
  type CancelRequest,
  type CarriedSignal,
  type Channel,
  cancelUpdate,
  channelTaskQueue,
  contactFor,
  DEFAULT_LIFECYCLE_SETTINGS,
  type DocumentSettled,
  documentSettledSignal,
  EventTypes,
  type ExtendExpiryRequest,
  extendExpiryUpdate,
  FailureTypes,
  handOverUpdate,
  isTerminal,
  type LinkChanges,
  type LinkState,
  type LinkStatus,
  type LinkView,
  linkCreatedUpdate,
  linkStateQuery,
  linkWorkflowId,
  type PaymentLinkOutcome,
  type PaymentLinkWorkflowInput,
  type PaymentReceived,
  type PersistOutcome,
  paymentReceivedSignal,
  type ReminderPlan,
  type ResendRequest,
  resendUpdate,
  type ScheduledReminder,
  SearchAttributes,
  STATUS_EVENTS,
  updateLinkUpdate,
} from './contract';
import {
  invalidChange,
  isInvalidData,
  persistOutcome,
  refusal,
  refusedDataMessage,
  storable,
  terminalFailure,
  type WriteFailure,
} from './failures';
import * as rulesV1 from './legacy/reminders-v1';
import { applyPaymentV1 } from './legacy-v1';
import {
  type ClosingMessageKind,
  closingMessageItem,
  type OutboxItem,
  paymentItems,
  webhookItem,
} from './outbox-items';
import { decidePayment, type Ledger, paymentAnnouncements, paymentWrites } from './payments';
import { basisOf, nextReminder, planFor } from './reminder-plan';
import { initialState, ledgerOf, resumedState } from './state';
import { messageSummary, wakeSummary } from './summaries';
import { type LinkSnapshot, linkWebhookEvent } from './webhook-event';

/**
 * Versions of this workflow's commands, oldest first. A run decides its version at its first
 * workflow task and keeps it to the end, so links started on older code finish on it.
 * - `ledger-in-postgres`: payments are recorded in batches by `recordPayments` (de-duplicated by
 *   Postgres, settling invoices and orders, closing the other links of a settled document); a
 *   data error is put on the timeline instead of failing the workflow. Before it: `recordChange`
 *   with the workflow's own list of seen payment ids.
 * - `outbox-deliveries`: merchant webhooks and closing messages (receipt, cancelled, expired) are
 *   enqueued in Postgres by the write of the transition they announce (`recordChange`'s outbox
 *   items, `recordPayments`' `announce`) and delivered by the worker's outbox drainer; the run
 *   schedules no `deliverWebhook`, no closing `notifyCustomer`, and waits for neither. Before it:
 *   one `deliverWebhook` per event (retried for up to a day, awaited before the run ends) and the
 *   closing message as a `notifyCustomer` awaited at the end.
 * - `lean-lifecycle`: the link's own Postgres writes (`persistLink`, `recordChange`) run as local
 *   activities inside the workflow task that decides them (`recordPayments` stays an activity),
 *   and a closed link ends as soon as its in-flight work is done (no late-payment window: a
 *   payment for a finished workflow is recorded by the callback path,
 *   src/payments/late-payments.ts). It implies `ledger-in-postgres` and `outbox-deliveries`, so a
 *   new run records one marker, not three.
 * - `precomputed-instants`: the run no longer computes its reminder instants (luxon, the host's
 *   zone rules): it carries a `ReminderPlan` computed outside, by the API at create (the input's
 *   `reminderPlan`) and at the update that changes the terms (the second argument of `updateLink`
 *   and `extendExpiry`), or, when it has none that fits its terms, by the `planReminders` local
 *   activity, whose result history keeps. The plan rides in `LinkState` across continue-as-new.
 *   Before it: the schedule recomputed in the workflow on every wake-up, from the rules frozen in
 *   legacy/reminders-v1.ts, which those runs keep to their end.
 * - `final-close`: the write that closes a link (expired, cancelled) is an activity, not a local
 *   one, so the close is in the history before anything is written, and the run completes in a
 *   later task: a payment that arrives meanwhile finds the link closed and is recorded as late,
 *   never undoing a close already announced. A busy link hands over to a fresh run with the
 *   signals it has not applied yet in the next run's input, after a number of signals as well as
 *   of events, and when asked to (`handOver`, by a callback Temporal refused a signal). It implies
 *   `lean-lifecycle`.
 * How to add one: docs/WORKFLOW-VERSIONS.md.
 */
export const PATCHES = {
  ledgerInPostgres: 'ledger-in-postgres',
  outboxDeliveries: 'outbox-deliveries',
  leanLifecycle: 'lean-lifecycle',
  precomputedInstants: 'precomputed-instants',
  finalClose: 'final-close',
} as const;

/** Payments recorded by one activity at most: its input stays small. */
const PAYMENT_BATCH = 100;

/**
 * Signals handed to the next run at most (`final-close`): one batch. A longer queue records a batch
 * first, so the next run's input stays a few dozen kilobytes whatever the load.
 */
const MAX_CARRIED = PAYMENT_BATCH;

/**
 * Postgres writes take milliseconds: an attempt still running after a few seconds is on a worker
 * that died, and is retried at once elsewhere instead of stalling the link for half a minute.
 * Attempts are idempotent, so one that was only slow and commits late changes nothing. Retried
 * without limit: a write that fails for its data is not retryable (see failures.ts).
 * (Activity options are not part of a history's commands: no patch needed, replays stay green.)
 */
const remoteWrites = proxyActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * The same writes as local activities (`lean-lifecycle`): run by the worker inside the workflow
 * task that decides them, recorded as one marker, no activity task, no second workflow task.
 * Temporal Cloud bills "All Local Activities associated with one Workflow Task count as a single
 * Action" (docs.temporal.io/cloud/actions), against one action per activity attempt. They are
 * idempotent Postgres writes, so a workflow task retried after a worker died writes nothing twice.
 * Attempts are short and retried in the worker while the backoff is under `localRetryThreshold`;
 * longer backoffs (Postgres down for a while) wait on a server timer instead of holding the
 * workflow task open with heartbeats ("Each additional Workflow Task heartbeat after counts as
 * an additional Action").
 */
const localWrites = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * A link's reminder instants when its run has no plan that fits its terms (`precomputed-instants`):
 * pure computation in the worker, recorded once as a marker, so the zone rules of whichever host
 * replays it later never enter the decision.
 */
const { planReminders } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Merchant webhooks: retried with backoff for up to a day, then given up. */
const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});

/**
 * `notifyCustomer` on the channel's own, rate-limited task queue. `waitForCancellation`
 * (`lean-lifecycle`): a message cancelled at the close is waited for until Temporal has recorded
 * its end, so the run never completes in the task that closed the link while that event is still
 * on its way. Completing over it would make Temporal refuse the task, and with it an update
 * (a cancel) answered in that task: the merchant would get an error for a cancel that was undone.
 */
function notifierFor(channel: Channel, waitForCancellation: boolean) {
  return proxyActivities<Activities>({
    taskQueue: channelTaskQueue(workflowInfo().taskQueue, channel),
    ...(waitForCancellation
      ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
      : {}),
    startToCloseTimeout: '1 minute',
    // A message that cannot go out within a day is given up (and recorded as pending).
    scheduleToCloseTimeout: '1 day',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  }).notifyCustomer;
}

type Command =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'documentSettled'; settled: DocumentSettled }
  | { kind: 'cancel'; id: number; request: CancelRequest }
  | { kind: 'extend'; id: number; request: ExtendExpiryRequest; plan?: ReminderPlan }
  | { kind: 'update'; id: number; changes: LinkChanges; plan?: ReminderPlan }
  | { kind: 'resend'; id: number; request: ResendRequest };

/** Signals the next run takes over (`final-close`): updates are answered by the run they came to. */
const isCarriable = (command: Command): command is CarriedSignal =>
  command.kind === 'payment' || command.kind === 'documentSettled';

/** A command as an update handler submits it, before the loop numbers it. */
type Request = Command extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

type Settlement = { ok: true } | { ok: false; failure: ApplicationFailure };

/** Inside the sandbox Date is Temporal's deterministic workflow clock, not the host's. */
const now = (): number => Date.now();
const iso = (ms: number): string => new Date(ms).toISOString();

/** "payment_link.expired", or the fields an update changed. */
const changeName = (change: Omit<LinkChange, 'linkId' | 'accountId'>): string =>
  change.events[0]?.type ?? Object.keys(change.patch ?? {}).join(', ');

/** Closing messages go once, by email when the link uses it, else by SMS. */
function preferredChannel(state: LinkState): Channel | undefined {
  return (['email', 'sms'] as const).find((c) => state.terms.channels.includes(c) && hasContact(state, c));
}

const hasContact = (state: LinkState, channel: Channel): boolean =>
  contactFor(state.terms.customer, channel) !== undefined;

export async function paymentLinkWorkflow(input: PaymentLinkWorkflowInput): Promise<PaymentLinkOutcome> {
  const { settings } = input;
  // Decided once per run, at its first workflow task (see PATCHES). A lean run is always on the
  // ledger in Postgres and the outbox: it does not record those older markers at all. (Older runs
  // call `patched` in the order their markers were recorded.)
  const finalClose = patched(PATCHES.finalClose);
  const leanLifecycle = finalClose || patched(PATCHES.leanLifecycle);
  const ledgerInPostgres = leanLifecycle || patched(PATCHES.ledgerInPostgres);
  const outboxDeliveries = leanLifecycle || patched(PATCHES.outboxDeliveries);
  const precomputedInstants = patched(PATCHES.precomputedInstants);
  const { persistLink, recordChange } = leanLifecycle ? localWrites : remoteWrites;
  // `final-close`: the close is decided in a task that only schedules its write, so no payment
  // can make Temporal refuse that task and undo a close already written and announced.
  const closingWrite = finalClose ? remoteWrites.recordChange : recordChange;
  // Payments stay an activity: a burst of them is recorded in batches of up to 100 (with their
  // outbox rows), long enough under load to hold a workflow task open past its timeout as a local
  // activity, and the measured result was lost tasks and a nondeterministic replay of the batching
  // (docs/WORKFLOW-VERSIONS.md, `lean-lifecycle`).
  const { recordPayments } = remoteWrites;
  const state = input.resumeFrom
    ? resumedState(input.resumeFrom, ledgerInPostgres)
    : initialState(input, ledgerInPostgres);
  const { id: linkId, accountId } = state.terms;

  // ---- messages in ----
  // What the previous run had received and not applied comes first (`final-close` hand-overs).
  const queue: Command[] = [...(input.carried ?? [])];
  /** Signals this run has received: Temporal refuses them past `history.maximumSignalsPerExecution`. */
  let signalsReceived = 0;
  /** A callback whose signal Temporal refused asked this run to hand over (`final-close`). */
  let handOverRequested = false;
  const signalsBeforeHandOver =
    settings.continueAsNewAfterSignals ?? DEFAULT_LIFECYCLE_SETTINGS.continueAsNewAfterSignals;
  const settled = new Map<number, Settlement>();
  let nextCommandId = 0;
  let persisted: PersistOutcome | undefined = input.resumeFrom ? { outcome: 'created' } : undefined;

  // ---- reminders ----
  /**
   * The current terms' reminders, in order. A `precomputed-instants` run reads the plan it
   * carries; an older run recomputes them, as it always did, with the rules it was recorded with.
   */
  const schedule = (): ScheduledReminder[] =>
    precomputedInstants ? (state.reminderPlan?.reminders ?? []) : rulesV1.reminderSchedule(state.terms);
  const upcomingReminder = (): ScheduledReminder | undefined =>
    precomputedInstants
      ? nextReminder(schedule(), state.reminderCursor)
      : rulesV1.nextReminder(schedule(), state.reminderCursor);

  /**
   * Gives the state the plan of its current terms: `offered` (the input's, an update's) if it was
   * computed for them, else the one already carried if it still fits, else `planReminders`'.
   */
  async function adoptPlan(offered: ReminderPlan | undefined): Promise<void> {
    const fitting = planFor(state.terms, offered) ?? planFor(state.terms, state.reminderPlan);
    state.reminderPlan =
      fitting ??
      (await planReminders.executeWithOptions({ summary: 'plan reminders' }, [basisOf(state.terms)]));
  }

  const view = (): LinkView => ({
    ...state,
    nextReminderAt: isTerminal(state.status) ? null : (upcomingReminder()?.at ?? null),
  });

  async function submit(command: Request): Promise<LinkView> {
    const id = ++nextCommandId;
    queue.push({ ...command, id } as Command);
    await condition(() => settled.has(id));
    const result = settled.get(id) as Settlement;
    settled.delete(id);
    if (!result.ok) throw result.failure;
    return view();
  }

  const rejectWhenTerminal = () => {
    if (isTerminal(state.status)) throw terminalFailure(state.status);
  };

  setHandler(linkStateQuery, view);
  setHandler(paymentReceivedSignal, (payment) => {
    signalsReceived++;
    queue.push({ kind: 'payment', payment });
  });
  setHandler(documentSettledSignal, (documentSettled) => {
    signalsReceived++;
    queue.push({ kind: 'documentSettled', settled: documentSettled });
  });
  if (finalClose) {
    setHandler(
      handOverUpdate,
      () => {
        handOverRequested = true;
      },
      {
        // Refused updates leave no event: a burst of refused callbacks adds nothing to the history.
        validator: () => {
          rejectWhenTerminal();
          if (handOverRequested) throw invalidChange('a hand-over is already due');
        },
      },
    );
  }
  setHandler(linkCreatedUpdate, async () => {
    await condition(() => persisted !== undefined);
    if (persisted && persisted.outcome !== 'created') throw refusal(persisted, state.terms.reference);
    return view();
  });
  setHandler(cancelUpdate, (request) => submit({ kind: 'cancel', request }), {
    validator: (_request) => rejectWhenTerminal(),
  });
  setHandler(
    extendExpiryUpdate,
    (request: ExtendExpiryRequest, plan?: ReminderPlan) => submit({ kind: 'extend', request, plan }),
    {
      validator: (request: ExtendExpiryRequest, _plan?: ReminderPlan) => {
        rejectWhenTerminal();
        const next = Date.parse(request.expiresAt);
        if (Number.isNaN(next)) throw invalidChange('expires_at is not a valid date', 'expires_at');
        if (next <= Date.parse(state.terms.expiresAt))
          throw invalidChange('expires_at must be later than the current expiry', 'expires_at');
      },
    },
  );
  setHandler(
    updateLinkUpdate,
    (changes: LinkChanges, plan?: ReminderPlan) => submit({ kind: 'update', changes, plan }),
    { validator: (_changes: LinkChanges, _plan?: ReminderPlan) => rejectWhenTerminal() },
  );
  setHandler(resendUpdate, (request) => submit({ kind: 'resend', request }), {
    validator: (request) => {
      rejectWhenTerminal();
      if (!hasContact(state, request.channel)) {
        throw ApplicationFailure.create({
          type: FailureTypes.ChannelUnavailable,
          message: `the customer has no ${request.channel === 'email' ? 'email address' : 'phone number'}`,
          nonRetryable: true,
        });
      }
    },
  });

  // ---- messages out ----
  const notify = { email: notifierFor('email', leanLifecycle), sms: notifierFor('sms', leanLifecycle) };
  type Message = Omit<NotifyCustomerInput, 'linkId' | 'accountId'>;
  const deliver = (message: Message) =>
    notify[message.channel]
      .executeWithOptions(
        {
          summary: messageSummary(
            state.terms,
            schedule(),
            message.channel,
            message.kind,
            message.scheduledFor,
          ),
        },
        [{ ...message, linkId, accountId }],
      )
      .then(
        () => undefined,
        (err: unknown) => {
          // One channel failing never stops another channel or the lifecycle.
          if (!isCancellation(err))
            log.warn('notification failed', { linkId, channel: message.channel, err });
        },
      );

  // The link and its reminders: cancelled as a whole the moment the link closes.
  const sends = new CancellationScope();
  const inFlight = new Set<Promise<void>>();
  function send(message: Message): void {
    const sending: Promise<void> = sends.run(() => deliver(message)).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }

  // Messages about the close itself (receipt, cancelled, expired): never cancelled, awaited at the
  // end. Runs before `outbox-deliveries` only; later ones enqueue them with the close (closingItems).
  const closingMessages: Promise<void>[] = [];
  function sendClosingMessage(kind: ClosingMessageKind): void {
    const channel = preferredChannel(state);
    if (channel) closingMessages.push(deliver({ channel, kind, messageKey: kind }));
  }

  // ---- transitions ----
  /**
   * Writes a transition. A change Postgres refuses as data is put on the timeline as `link.error`
   * (false is returned) rather than failing the workflow and stranding the link.
   */
  async function record(
    change: Omit<LinkChange, 'linkId' | 'accountId'>,
    write: typeof recordChange = recordChange,
  ): Promise<boolean> {
    try {
      await write.executeWithOptions({ summary: `record ${changeName(change)}` }, [
        { ...change, linkId, accountId },
      ]);
      return true;
    } catch (err) {
      if (!ledgerInPostgres || !isInvalidData(err)) throw err;
      await recordError(change.events[0]?.type ?? 'change', err, change.patch, {}, change.outbox, write);
      return false;
    }
  }

  /**
   * The operator's view of a write that failed for its data. `keep` is the part of the change the
   * link must not lose (its status and figures); it is dropped only if Postgres refuses it too.
   */
  async function recordError(
    during: string,
    err: WriteFailure,
    keep?: LinkChange['patch'],
    data: Record<string, unknown> = {},
    outbox?: OutboxItem[],
    write: typeof recordChange = recordChange,
  ): Promise<void> {
    log.error('the link could not store a change', { linkId, during, err });
    const events = [
      {
        key: `error:${uuid4()}`,
        type: EventTypes.linkError,
        data: { during, message: storable(refusedDataMessage(err) ?? err.message), ...data },
      },
    ];
    try {
      // What the kept change announces goes with it (`outbox-deliveries` runs only).
      await write({ linkId, accountId, patch: keep, events, ...(outbox?.length ? { outbox } : {}) });
    } catch (again) {
      if ((!keep && !outbox?.length) || !isInvalidData(again)) throw again;
      await write({ linkId, accountId, events });
    }
  }

  // ---- webhooks to the merchant ----
  /** The link as a webhook shows it, now. */
  const snapshot = (): LinkSnapshot => {
    const t = state.terms;
    return {
      id: t.id,
      accountId: t.accountId,
      status: state.status,
      amount: t.amount,
      amountPaid: state.amountPaid,
      currency: t.currency,
      reference: t.reference,
      metadata: t.metadata,
      invoiceId: t.invoiceId,
      orderId: t.orderId,
      customerId: t.customerId,
    };
  };
  /** `outbox-deliveries`: a webhook as an outbox item, written with the transition it announces. */
  const announce = (type: string, key: string, extra: Record<string, unknown> = {}): OutboxItem =>
    webhookItem(linkWebhookEvent(snapshot(), { type, key, extra }, iso(now())));
  /** `outbox-deliveries`: the closing message as an outbox item, on the channel it goes by. */
  const closingItems = (kind: ClosingMessageKind | undefined): OutboxItem[] =>
    kind ? closingMessageItem(kind, preferredChannel(state)) : [];

  // Before `outbox-deliveries`: one activity per webhook, in the background, awaited before the workflow ends.
  const webhooks = new Set<Promise<void>>();
  function emit(type: string, key: string, extra: Record<string, unknown> = {}): void {
    const t = state.terms;
    const snapshot = { ...t, status: state.status, amountPaid: state.amountPaid };
    const delivering: Promise<void> = deliverWebhook
      .executeWithOptions({ summary: `webhook ${type}` }, [
        linkWebhookEvent(snapshot, { type, key, extra }, iso(now())),
      ])
      .then(
        () => undefined,
        (err: unknown) => log.warn('webhook not delivered', { linkId, type, err }),
      )
      .finally(() => webhooks.delete(delivering));
    webhooks.add(delivering);
  }

  /** Closes the link; `message`: the closing message the customer gets about it, if any. */
  async function close(
    status: LinkStatus,
    data: Record<string, unknown> = {},
    message?: ClosingMessageKind,
  ): Promise<void> {
    state.status = status;
    state.closedAt = iso(now());
    sends.cancel();
    // Upserted in the same workflow task that schedules the write: the search attribute never
    // lags behind the row.
    upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: status }]);
    await record(
      {
        patch: { status, closedAt: state.closedAt },
        events: [{ key: `status:${status}`, type: STATUS_EVENTS[status], data }],
        ...(outboxDeliveries
          ? { outbox: [announce(`payment_link.${status}`, `status:${status}`), ...closingItems(message)] }
          : {}),
      },
      closingWrite,
    );
    if (!outboxDeliveries) {
      emit(`payment_link.${status}`, `status:${status}`);
      if (message) sendClosingMessage(message);
    }
  }

  /**
   * Payments, in the order they arrived: recorded by Postgres, which decides with the link's rules
   * whether each is new and whether its invoice or order was already settled. Payments queued
   * together are recorded together: a busy multi-use link spends one activity on many.
   */
  async function applyPayments(payments: PaymentReceived[]): Promise<void> {
    const before = ledgerOf(state);
    const at = iso(now());
    let recorded: PaymentsRecorded;
    try {
      recorded = await recordPayments.executeWithOptions(
        { summary: `record ${payments.length === 1 ? '1 payment' : `${payments.length} payments`}` },
        [
          {
            linkId,
            accountId,
            before,
            payments: payments.map((payment) => ({ rowId: `pay_${uuid4().replaceAll('-', '')}`, payment })),
            now: at,
            // The activity enqueues the webhooks and the receipt in the same transaction.
            ...(outboxDeliveries
              ? { announce: { link: snapshot(), receiptChannel: preferredChannel(state) ?? null } }
              : {}),
          },
        ],
      );
    } catch (err) {
      if (!isInvalidData(err)) throw err;
      if (payments.length > 1) {
        // One of them holds what Postgres refuses: each on its own finds which.
        for (const payment of payments) await applyPayments([payment]);
        return;
      }
      recorded = await keepUnstorablePayment(before, payments[0] as PaymentReceived, at, err);
    }

    for (const [i, result] of recorded.results.entries()) {
      const payment = payments[i] as PaymentReceived;
      if (result.outcome === 'duplicate') continue; // redelivered: already counted
      const { decision } = result;
      const ledger = ledgerOf(state);
      Object.assign(state, {
        status: decision.status,
        amountPaid: decision.amountPaid,
        paymentsCount: decision.paymentsCount,
      });
      if (!isTerminal(ledger.status) && isTerminal(decision.status)) {
        state.closedAt = at;
        sends.cancel();
        // Receipts go to the link's customer: for a multi-use link that is not who paid.
        if (decision.status === 'paid' && state.terms.maxPayments === 1 && !outboxDeliveries)
          sendClosingMessage('receipt');
      }
      // Each webhook carries the link as this payment left it (enqueued by recordPayments on
      // `outbox-deliveries` runs, with the same pure rules: outbox-items.ts).
      if (!outboxDeliveries)
        for (const a of paymentAnnouncements(ledger, payment, decision)) emit(a.type, a.key, a.extra);
    }
    // The activity wrote the row; the search attribute follows in the task that learns of it.
    if (state.status !== before.status) {
      upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: state.status }]);
    }
    for (const other of recorded.linksToClose) {
      await getExternalWorkflowHandle(linkWorkflowId(other))
        .signal(documentSettledSignal, {
          byLinkId: linkId,
          invoiceId: state.terms.invoiceId,
          orderId: state.terms.orderId,
        })
        .catch((err: unknown) => log.warn('could not close a link of a settled document', { other, err }));
    }
  }

  /** The money was taken even if Postgres refuses its details: the link counts it, an operator sees it. */
  async function keepUnstorablePayment(
    before: Ledger,
    payment: PaymentReceived,
    at: string,
    err: WriteFailure,
  ): Promise<PaymentsRecorded> {
    const decision = decidePayment(before, payment);
    const closedAt = !isTerminal(before.status) && isTerminal(decision.status) ? at : null;
    await recordError(
      EventTypes.paymentSucceeded,
      err,
      paymentWrites(before, payment, decision, closedAt).patch,
      {
        provider: storable(payment.provider),
        payment_id: storable(payment.paymentId),
        amount: payment.amount,
        currency: storable(payment.currency),
      },
      // Announced as Postgres can store it (the outbox row is jsonb, refusing what the payment row refused).
      outboxDeliveries
        ? paymentItems(
            { link: snapshot(), receiptChannel: preferredChannel(state) ?? null },
            before,
            {
              ...payment,
              provider: storable(payment.provider),
              paymentId: storable(payment.paymentId),
              currency: storable(payment.currency),
            },
            decision,
            at,
          )
        : undefined,
    );
    return { results: [{ outcome: 'recorded', decision }], linksToClose: [] };
  }

  /** The payments waiting at the head of the queue, up to a batch. */
  function takeQueuedPayments(): PaymentReceived[] {
    const taken: PaymentReceived[] = [];
    while (queue[0]?.kind === 'payment' && taken.length < PAYMENT_BATCH - 1) {
      taken.push((queue.shift() as { payment: PaymentReceived }).payment);
    }
    return taken;
  }

  async function apply(command: Command): Promise<void> {
    if (command.kind === 'payment') {
      if (ledgerInPostgres) return applyPayments([command.payment, ...takeQueuedPayments()]);
      return applyPaymentV1(
        {
          state,
          record: async (change) => void (await record(change)),
          emit,
          sends,
          sendClosingMessage,
          now,
        },
        command.payment,
      );
    }
    if (command.kind === 'documentSettled') {
      // Nothing is left to collect: the link stops reminding and says why.
      if (!isTerminal(state.status)) {
        await close('cancelled', { reason: 'document_paid', by_payment_link: command.settled.byLinkId });
      }
      return;
    }
    if (isTerminal(state.status)) {
      // Validated while open, but a payment or the expiry got there first.
      settled.set(command.id, { ok: false, failure: terminalFailure(state.status) });
      return;
    }
    switch (command.kind) {
      case 'cancel':
        await close(
          'cancelled',
          command.request.reason ? { reason: command.request.reason } : {},
          command.request.notifyCustomer ? 'cancelled' : undefined,
        );
        break;
      case 'extend': {
        const { expiresAt } = command.request;
        if (Date.parse(expiresAt) <= Date.parse(state.terms.expiresAt)) {
          settled.set(command.id, {
            ok: false,
            failure: invalidChange('expires_at must be later than the current expiry', 'expires_at'),
          });
          return;
        }
        const previous = state.terms.expiresAt;
        state.terms = { ...state.terms, expiresAt };
        // Offsets before expiry move with it; any that now fall in the past are not sent late.
        state.reminderCursor = iso(Math.max(Date.parse(state.reminderCursor), now()));
        if (precomputedInstants) await adoptPlan(command.plan);
        await record({
          patch: { expiresAt },
          events: [
            {
              key: `extend:${expiresAt}`,
              type: EventTypes.expiryExtended,
              data: { from: previous, to: expiresAt },
            },
          ],
        });
        break;
      }
      case 'update': {
        const { changes } = command;
        const previous = state.terms;
        const previousPlan = state.reminderPlan;
        state.terms = {
          ...state.terms,
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          ...(changes.metadata !== undefined ? { metadata: changes.metadata } : {}),
          ...(changes.reminders !== undefined ? { reminders: changes.reminders } : {}),
          ...(changes.quietHours !== undefined ? { quietHours: changes.quietHours } : {}),
        };
        // A new schedule (or quiet window) applies from now on: nothing already past is sent late.
        if (changes.reminders !== undefined || changes.quietHours !== undefined) {
          state.reminderCursor = iso(Math.max(Date.parse(state.reminderCursor), now()));
          if (precomputedInstants) await adoptPlan(command.plan);
        }
        const stored = await record({
          patch: changes,
          events: [
            { key: `update:${uuid4()}`, type: EventTypes.updated, data: { fields: Object.keys(changes) } },
          ],
        });
        if (!stored) {
          state.terms = previous;
          if (precomputedInstants) state.reminderPlan = previousPlan;
          settled.set(command.id, {
            ok: false,
            failure: invalidChange('the change contains data that cannot be stored'),
          });
          return;
        }
        break;
      }
      case 'resend':
        send({ channel: command.request.channel, kind: 'link', messageKey: `resend:${uuid4()}` });
        break;
    }
    settled.set(command.id, { ok: true });
  }

  const historyLong = () =>
    workflowInfo().continueAsNewSuggested ||
    workflowInfo().historyLength >= settings.continueAsNewAfterEvents;
  // Hand over to a fresh run once history is long, at a quiet moment: nothing queued, no message
  // in flight, no handler mid-way. Everything the next run needs is in `state`.
  // `final-close`: a steady stream of payments never leaves the queue empty, so what is queued
  // goes along in the next run's input (only signals: an update waiting for its answer keeps the
  // run), and signals count as well as events: Temporal refuses a run's signals past its limit
  // whatever the length of its history.
  const handOverDue = () =>
    finalClose
      ? (historyLong() || signalsReceived >= signalsBeforeHandOver || handOverRequested) &&
        queue.length <= MAX_CARRIED &&
        queue.every(isCarriable) &&
        inFlight.size === 0 &&
        allHandlersFinished()
      : historyLong() &&
        queue.length === 0 &&
        inFlight.size === 0 &&
        webhooks.size === 0 &&
        allHandlersFinished();
  const handOver = () =>
    continueAsNew<typeof paymentLinkWorkflow>({
      terms: state.terms,
      settings,
      resumeFrom: state,
      ...(finalClose ? { carried: queue.filter(isCarriable) } : {}),
    });

  // ---- the lifecycle ----
  // The plan the API computed at create, or the one a previous run carried; computed by the
  // activity only when neither fits (a start by an older API, a run resumed from a legacy one).
  if (precomputedInstants) await adoptPlan(input.reminderPlan);
  if (!input.resumeFrom) {
    try {
      persisted = persistOutcome(
        await persistLink.executeWithOptions({ summary: 'store the link' }, [state.terms]),
      );
    } catch (err) {
      if (!ledgerInPostgres || !isInvalidData(err)) throw err;
      persisted = { outcome: 'invalid_data', message: storable(refusedDataMessage(err) ?? 'invalid data') };
    }
    if (persisted.outcome !== 'created') {
      upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: null }]);
      await condition(allHandlersFinished);
      return { status: 'rejected', reason: persisted.outcome };
    }
    for (const channel of state.terms.channels) {
      if (hasContact(state, channel)) send({ channel, kind: 'link', messageKey: `link:${channel}` });
    }
  }

  while (!isTerminal(state.status)) {
    // `final-close`: before the next command, or a busy link would never get to it.
    if (finalClose && handOverDue()) await handOver();
    const command = queue.shift();
    if (command) {
      await apply(command);
      continue;
    }
    if (handOverDue()) await handOver();
    const expiresAt = Date.parse(state.terms.expiresAt);
    const reminder = upcomingReminder();
    const wakeAt = Math.min(expiresAt, reminder ? Date.parse(reminder.at) : Number.POSITIVE_INFINITY);
    if (wakeAt > now()) {
      await condition(() => queue.length > 0 || handOverDue(), wakeAt - now(), {
        summary: wakeSummary(schedule(), expiresAt, reminder),
      });
    }
    // Commands first (a payment that raced the expiry wins), then a due hand-over.
    if (queue.length > 0 || handOverDue()) continue;
    if (now() >= expiresAt) {
      await close('expired', {}, state.terms.notifyOnExpiry ? 'expired' : undefined);
    } else if (reminder && now() >= Date.parse(reminder.at)) {
      state.reminderCursor = reminder.at;
      for (const channel of state.terms.channels) {
        if (hasContact(state, channel)) {
          send({
            channel,
            kind: 'reminder',
            messageKey: `reminder:${reminder.at}:${channel}`,
            scheduledFor: reminder.at,
            source: reminder.source,
          });
        }
      }
    }
  }

  // Closed. A run started before `lean-lifecycle` still listens for payments that were under way
  // when it closed (recorded and flagged for refund review; the link stays as it is). A lean run
  // does not wait: a payment that finds its workflow finished is recorded, and flagged, by the
  // provider-callback path (src/payments/late-payments.ts).
  if (!leanLifecycle) {
    const listenUntil = Date.parse(state.closedAt ?? iso(now())) + settings.latePaymentWindowMs;
    for (;;) {
      const command = queue.shift();
      if (command) {
        await apply(command);
        continue;
      }
      const remaining = listenUntil - now();
      if (
        remaining <= 0 ||
        !(await condition(() => queue.length > 0, remaining, { summary: 'late-payment window' }))
      )
        break;
    }
  }
  await Promise.all([...inFlight, ...closingMessages, ...webhooks]);
  // Payments that arrived while the last messages went out are recorded too: none is dropped.
  // A lean run also takes a signal that came with the very task that found its handlers finished
  // (older runs ended there; their histories keep that). On `final-close` runs this is also where
  // a payment that came while the close was being written lands: the state is closed, so it is
  // recorded as late and the close stands.
  do {
    for (let command = queue.shift(); command; command = queue.shift()) await apply(command);
    await condition(allHandlersFinished);
  } while (leanLifecycle && queue.length > 0);
  return { status: state.status, amountPaid: state.amountPaid, paymentsCount: state.paymentsCount };
}
