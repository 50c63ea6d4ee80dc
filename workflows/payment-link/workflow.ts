/**
 * One payment link's lifecycle, from creation to paid, completed, expired or cancelled.
 *
 * The main loop is the only writer of state. Signal and update handlers validate and enqueue;
 * the loop applies commands one at a time, so a payment, a cancel and an expiry can never
 * interleave. Messages to the customer run in a cancellable scope: the moment the link closes,
 * every pending reminder is cancelled.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import type { NotifyCustomerInput } from '../../activities/notifications';
import type { LinkChange, LinkEventInput } from '../../src/links/link-store';
import {
  type CancelRequest,
  type Channel,
  cancelUpdate,
  channelTaskQueue,
  contactFor,
  EventTypes,
  type ExtendExpiryRequest,
  extendExpiryUpdate,
  FailureTypes,
  isTerminal,
  type LinkChanges,
  type LinkState,
  type LinkStatus,
  type LinkView,
  linkCreatedUpdate,
  linkStateQuery,
  type PaymentLinkOutcome,
  type PaymentLinkWorkflowInput,
  type PaymentReceived,
  paymentReceivedSignal,
  type ResendRequest,
  resendUpdate,
  SearchAttributes,
  updateLinkUpdate,
} from './contract';
import { decidePayment } from './payments';
import { nextReminder, reminderSchedule } from './reminders';

const { persistLink, recordChange } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Merchant webhooks: retried with backoff for up to a day, then given up. */
const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});

/** `notifyCustomer` on the channel's own, rate-limited task queue. */
function notifierFor(channel: Channel) {
  return proxyActivities<Activities>({
    taskQueue: channelTaskQueue(workflowInfo().taskQueue, channel),
    startToCloseTimeout: '1 minute',
    // A message that cannot go out within a day is given up (and recorded as pending).
    scheduleToCloseTimeout: '1 day',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  }).notifyCustomer;
}

type Command =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'cancel'; id: number; request: CancelRequest }
  | { kind: 'extend'; id: number; request: ExtendExpiryRequest }
  | { kind: 'update'; id: number; changes: LinkChanges }
  | { kind: 'resend'; id: number; request: ResendRequest };

/** A command as an update handler submits it, before the loop numbers it. */
type Request = Command extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

type Settlement = { ok: true } | { ok: false; failure: ApplicationFailure };

/** Inside the sandbox Date is Temporal's deterministic workflow clock, not the host's. */
const now = (): number => Date.now();
const iso = (ms: number): string => new Date(ms).toISOString();

const STATUS_EVENTS: Record<LinkStatus, LinkEventInput['type']> = {
  active: EventTypes.created,
  partially_paid: EventTypes.partiallyPaid,
  paid: EventTypes.paid,
  completed: EventTypes.completed,
  expired: EventTypes.expired,
  cancelled: EventTypes.cancelled,
};

const terminalFailure = (status: LinkStatus) =>
  ApplicationFailure.create({
    type: FailureTypes.LinkTerminal,
    message: `the payment link is ${status}`,
    nonRetryable: true,
  });

const invalidChange = (message: string) =>
  ApplicationFailure.create({ type: FailureTypes.InvalidChange, message, nonRetryable: true });

function initialState(input: PaymentLinkWorkflowInput): LinkState {
  return {
    terms: input.terms,
    status: 'active',
    amountPaid: 0,
    paymentsCount: 0,
    seenPaymentIds: [],
    reminderCursor: input.terms.createdAt,
    closedAt: null,
  };
}

/** Closing messages go once, by email when the link uses it, else by SMS. */
function preferredChannel(state: LinkState): Channel | undefined {
  return (['email', 'sms'] as const).find((c) => state.terms.channels.includes(c) && hasContact(state, c));
}

const hasContact = (state: LinkState, channel: Channel): boolean =>
  contactFor(state.terms.customer, channel) !== undefined;

export async function paymentLinkWorkflow(input: PaymentLinkWorkflowInput): Promise<PaymentLinkOutcome> {
  const { settings } = input;
  const state = input.resumeFrom ?? initialState(input);
  const { id: linkId, accountId } = state.terms;

  // ---- messages in ----
  const queue: Command[] = [];
  const settled = new Map<number, Settlement>();
  let nextCommandId = 0;
  let created: 'created' | 'duplicate_reference' | undefined = input.resumeFrom ? 'created' : undefined;

  const view = (): LinkView => ({
    ...state,
    nextReminderAt: isTerminal(state.status)
      ? null
      : (nextReminder(reminderSchedule(state.terms), state.reminderCursor)?.at ?? null),
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
    queue.push({ kind: 'payment', payment });
  });
  setHandler(linkCreatedUpdate, async () => {
    await condition(() => created !== undefined);
    if (created === 'duplicate_reference') {
      throw ApplicationFailure.create({
        type: FailureTypes.DuplicateReference,
        message: `another payment link of this account already has reference "${state.terms.reference}"`,
        nonRetryable: true,
      });
    }
    return view();
  });
  setHandler(cancelUpdate, (request) => submit({ kind: 'cancel', request }), {
    validator: (_request) => rejectWhenTerminal(),
  });
  setHandler(extendExpiryUpdate, (request) => submit({ kind: 'extend', request }), {
    validator: (request) => {
      rejectWhenTerminal();
      const next = Date.parse(request.expiresAt);
      if (Number.isNaN(next)) throw invalidChange('expires_at is not a valid date');
      if (next <= Date.parse(state.terms.expiresAt))
        throw invalidChange('expires_at must be later than the current expiry');
    },
  });
  setHandler(updateLinkUpdate, (changes) => submit({ kind: 'update', changes }), {
    validator: (_request) => rejectWhenTerminal(),
  });
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
  const notify = { email: notifierFor('email'), sms: notifierFor('sms') };
  type Message = Omit<NotifyCustomerInput, 'linkId' | 'accountId'>;
  const deliver = (message: Message) =>
    notify[message.channel]({ ...message, linkId, accountId }).then(
      () => undefined,
      (err: unknown) => {
        // One channel failing never stops another channel or the lifecycle.
        if (!isCancellation(err)) log.warn('notification failed', { linkId, channel: message.channel, err });
      },
    );

  // The link and its reminders: cancelled as a whole the moment the link closes.
  const sends = new CancellationScope();
  const inFlight = new Set<Promise<void>>();
  function send(message: Message): void {
    const sending: Promise<void> = sends.run(() => deliver(message)).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }

  // Messages about the close itself (receipt, cancelled, expired): never cancelled, awaited at the end.
  const closingMessages: Promise<void>[] = [];
  function sendClosingMessage(kind: 'receipt' | 'cancelled' | 'expired'): void {
    const channel = preferredChannel(state);
    if (channel) closingMessages.push(deliver({ channel, kind, messageKey: kind }));
  }

  // ---- transitions ----
  async function record(change: Omit<LinkChange, 'linkId' | 'accountId'>): Promise<void> {
    await recordChange({ ...change, linkId, accountId });
  }

  // ---- webhooks to the merchant: in the background, awaited before the workflow ends ----
  const webhooks = new Set<Promise<void>>();
  function emit(type: string, key: string, extra: Record<string, unknown> = {}): void {
    const t = state.terms;
    const delivering: Promise<void> = deliverWebhook({
      id: `evt_${linkId}_${key}`,
      type,
      accountId,
      linkId,
      createdAt: iso(now()),
      data: {
        // What the receiver needs to match its own records.
        payment_link: {
          id: linkId,
          status: state.status,
          amount: t.amount,
          amount_paid: state.amountPaid,
          currency: t.currency,
          reference: t.reference,
          metadata: t.metadata,
          invoice_id: t.invoiceId,
          order_id: t.orderId,
          customer_id: t.customerId,
        },
        ...extra,
      },
    })
      .then(
        () => undefined,
        (err: unknown) => log.warn('webhook not delivered', { linkId, type, err }),
      )
      .finally(() => webhooks.delete(delivering));
    webhooks.add(delivering);
  }

  async function close(status: LinkStatus, data: Record<string, unknown> = {}): Promise<void> {
    state.status = status;
    state.closedAt = iso(now());
    sends.cancel();
    // Upserted in the same workflow task that schedules the write: the search attribute never
    // lags behind the row.
    upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: status }]);
    await record({
      patch: { status, closedAt: state.closedAt },
      events: [{ key: `status:${status}`, type: STATUS_EVENTS[status], data }],
    });
    emit(`payment_link.${status}`, `status:${status}`);
  }

  async function applyPayment(payment: PaymentReceived): Promise<void> {
    if (state.seenPaymentIds.includes(payment.paymentId)) return; // redelivered: already counted
    state.seenPaymentIds.push(payment.paymentId);
    const decision = decidePayment(state, payment);
    const before = { status: state.status, amountPaid: state.amountPaid, paymentsCount: state.paymentsCount };
    const paymentData = {
      payment_id: payment.paymentId,
      provider: payment.provider,
      amount: payment.amount,
      currency: payment.currency,
      ...(decision.flags.length > 0 ? { flags: decision.flags, refund_review: decision.refundReview } : {}),
    };
    const events: LinkEventInput[] = [
      {
        key: `payment:${payment.provider}:${payment.paymentId}`,
        type:
          decision.recordAs === 'rejected'
            ? EventTypes.paymentRejected
            : decision.flags.length > 0
              ? EventTypes.paymentFlagged
              : EventTypes.paymentSucceeded,
        data: paymentData,
      },
    ];
    if (decision.status === 'partially_paid') {
      events.push({
        key: `partially_paid:${payment.paymentId}`,
        type: EventTypes.partiallyPaid,
        data: {
          amount_paid: decision.amountPaid,
          amount_remaining: state.terms.amount - decision.amountPaid,
        },
      });
    } else if (decision.status !== before.status) {
      events.push({
        key: `status:${decision.status}`,
        type: STATUS_EVENTS[decision.status],
        data: { amount_paid: decision.amountPaid, payments_count: decision.paymentsCount },
      });
    }

    state.amountPaid = decision.amountPaid;
    state.paymentsCount = decision.paymentsCount;
    state.status = decision.status;
    const changed =
      decision.status !== before.status ||
      decision.amountPaid !== before.amountPaid ||
      decision.paymentsCount !== before.paymentsCount;
    const closing = !isTerminal(before.status) && isTerminal(decision.status);
    if (closing) {
      state.closedAt = iso(now());
      sends.cancel();
    }
    if (decision.status !== before.status) {
      upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: decision.status }]);
    }
    await record({
      patch: !changed
        ? undefined
        : {
            status: decision.status,
            amountPaid: decision.amountPaid,
            paymentsCount: decision.paymentsCount,
            ...(closing ? { closedAt: state.closedAt as string } : {}),
          },
      payment: {
        id: `pay_${uuid4().replaceAll('-', '')}`,
        provider: payment.provider,
        providerPaymentId: payment.paymentId,
        amount: payment.amount,
        currency: payment.currency.toUpperCase(),
        status: decision.recordAs,
        flags: decision.flags,
        refundReview: decision.refundReview,
        sessionId: payment.sessionId ?? null,
        paymentProfileId: payment.paymentProfileId ?? null,
      },
      events,
    });
    // Receipts go to the link's customer: for a multi-use link that is not who paid.
    if (closing && decision.status === 'paid' && state.terms.maxPayments === 1) sendClosingMessage('receipt');
    const counted =
      decision.recordAs === 'succeeded' && !decision.flags.some((f) => f === 'late' || f === 'already_paid');
    // A payment that needs a person (over, under, late, wrong currency…) is announced as such,
    // never as a plain success a merchant would fulfil on.
    emit(
      decision.refundReview || decision.recordAs === 'rejected' ? 'payment.flagged' : 'payment.succeeded',
      `payment:${payment.provider}:${payment.paymentId}`,
      {
        payment: {
          provider: payment.provider,
          payment_id: payment.paymentId,
          amount: payment.amount,
          currency: payment.currency,
          flags: decision.flags,
          refund_review: decision.refundReview,
        },
      },
    );
    if (decision.status === 'partially_paid' && counted)
      emit('payment_link.partially_paid', `partially_paid:${payment.paymentId}`);
    else if (decision.status !== before.status)
      emit(`payment_link.${decision.status}`, `status:${decision.status}`);
  }

  async function apply(command: Command): Promise<void> {
    if (command.kind === 'payment') return applyPayment(command.payment);
    if (isTerminal(state.status)) {
      // Validated while open, but a payment or the expiry got there first.
      settled.set(command.id, { ok: false, failure: terminalFailure(state.status) });
      return;
    }
    switch (command.kind) {
      case 'cancel':
        await close('cancelled', command.request.reason ? { reason: command.request.reason } : {});
        if (command.request.notifyCustomer) sendClosingMessage('cancelled');
        break;
      case 'extend': {
        const { expiresAt } = command.request;
        if (Date.parse(expiresAt) <= Date.parse(state.terms.expiresAt)) {
          settled.set(command.id, {
            ok: false,
            failure: invalidChange('expires_at must be later than the current expiry'),
          });
          return;
        }
        const previous = state.terms.expiresAt;
        state.terms = { ...state.terms, expiresAt };
        // Offsets before expiry move with it; any that now fall in the past are not sent late.
        state.reminderCursor = iso(Math.max(Date.parse(state.reminderCursor), now()));
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
        }
        await record({
          patch: changes,
          events: [
            { key: `update:${uuid4()}`, type: EventTypes.updated, data: { fields: Object.keys(changes) } },
          ],
        });
        break;
      }
      case 'resend':
        send({ channel: command.request.channel, kind: 'link', messageKey: `resend:${uuid4()}` });
        break;
    }
    settled.set(command.id, { ok: true });
  }

  // Hand over to a fresh run once history is long, at a quiet moment: nothing queued, no message
  // in flight, no handler mid-way. Everything the next run needs is in `state`.
  const handOverDue = () =>
    (workflowInfo().continueAsNewSuggested ||
      workflowInfo().historyLength >= settings.continueAsNewAfterEvents) &&
    queue.length === 0 &&
    inFlight.size === 0 &&
    webhooks.size === 0 &&
    allHandlersFinished();

  // ---- the lifecycle ----
  if (!input.resumeFrom) {
    created = await persistLink(state.terms);
    if (created === 'duplicate_reference') {
      upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: null }]);
      await condition(allHandlersFinished);
      return { status: 'rejected', reason: 'duplicate_reference' };
    }
    for (const channel of state.terms.channels) {
      if (hasContact(state, channel)) send({ channel, kind: 'link', messageKey: `link:${channel}` });
    }
  }

  while (!isTerminal(state.status)) {
    const command = queue.shift();
    if (command) {
      await apply(command);
      continue;
    }
    if (handOverDue()) {
      await continueAsNew<typeof paymentLinkWorkflow>({ terms: state.terms, settings, resumeFrom: state });
    }
    const expiresAt = Date.parse(state.terms.expiresAt);
    const reminder = nextReminder(reminderSchedule(state.terms), state.reminderCursor);
    const wakeAt = Math.min(expiresAt, reminder ? Date.parse(reminder.at) : Number.POSITIVE_INFINITY);
    if (wakeAt > now()) await condition(() => queue.length > 0 || handOverDue(), wakeAt - now());
    // Commands first (a payment that raced the expiry wins), then a due hand-over.
    if (queue.length > 0 || handOverDue()) continue;
    if (now() >= expiresAt) {
      await close('expired');
      if (state.terms.notifyOnExpiry) sendClosingMessage('expired');
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

  // Closed. Payments already under way when it closed still arrive; they are recorded and
  // flagged for refund review, and the link stays as it is.
  const listenUntil = Date.parse(state.closedAt ?? iso(now())) + settings.latePaymentWindowMs;
  for (;;) {
    const command = queue.shift();
    if (command) {
      await apply(command);
      continue;
    }
    const remaining = listenUntil - now();
    if (remaining <= 0 || !(await condition(() => queue.length > 0, remaining))) break;
  }
  await Promise.all([...inFlight, ...closingMessages, ...webhooks]);
  // Payments that arrived while the last messages went out are recorded too: none is dropped.
  for (let command = queue.shift(); command; command = queue.shift()) await apply(command);
  await condition(allHandlersFinished);
  return { status: state.status, amountPaid: state.amountPaid, paymentsCount: state.paymentsCount };
}
