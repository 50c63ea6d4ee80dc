/**
 * The contract of the payment-link workflow: everything the API, the worker and the
 * workflow agree on. It imports only Temporal's sandbox-safe packages so that both the
 * workflow bundle and Node code can use it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const DEFAULT_TASK_QUEUE = 'payment-links';

/** The workflow id is the link id: one lifecycle per link, found by the id the merchant holds. */
export const linkWorkflowId = (linkId: string): string => linkId;

export const LINK_STATUSES = [
  'active',
  'partially_paid',
  'paid',
  'completed',
  'expired',
  'cancelled',
] as const;
export type LinkStatus = (typeof LINK_STATUSES)[number];
export const TERMINAL_STATUSES: readonly LinkStatus[] = ['paid', 'completed', 'expired', 'cancelled'];
export const isTerminal = (status: LinkStatus): boolean => TERMINAL_STATUSES.includes(status);

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Messages go through one task queue per channel, so each channel's throughput is bounded by
 * its worker's rate limit (SMS providers allow about one message a second per sender).
 */
export const channelTaskQueue = (linkTaskQueue: string, channel: Channel): string =>
  `${linkTaskQueue}-${channel}`;

/** Registered on every server the project uses (dev server flags, docs for production clusters). */
export const SearchAttributes = {
  LinkStatus: defineSearchAttributeKey('LinkStatus', SearchAttributeType.KEYWORD),
  AccountId: defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD),
  CustomerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  InvoiceId: defineSearchAttributeKey('InvoiceId', SearchAttributeType.KEYWORD),
  CampaignId: defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD),
  OrderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  Reference: defineSearchAttributeKey('Reference', SearchAttributeType.KEYWORD),
} as const;

/** ISO 8601 durations measured from creation and back from expiry. */
export interface ReminderPolicy {
  afterCreated: string[];
  beforeExpiry: string[];
}

/** A daily window, wall-clock time in the customer's zone, in which nothing is sent. */
export interface QuietHours {
  start: string; // HH:MM
  end: string; // HH:MM
}

/** One reminder of a link's schedule. */
export interface ScheduledReminder {
  /** UTC instant, ISO 8601. */
  at: string;
  /** The offset it came from, for the timeline: "after_created:P1D", "before_expiry:PT24H". */
  source: string;
}

/** Everything a link's reminder instants are computed from. */
export interface ReminderBasis {
  createdAt: string;
  expiresAt: string;
  reminders: ReminderPolicy;
  quietHours: QuietHours | null;
  /** IANA zone the offsets and quiet hours are read in. */
  timezone: string;
}

/**
 * A link's reminder instants, computed outside the workflow (`precomputed-instants`): at create
 * and by the update that changes them, in the API, or by the `planReminders` activity. The zone
 * rules (luxon, the host's time-zone data) run there, once, and the instants are carried in
 * history, so a new zone rule never changes what a running link's replay decides.
 */
export interface ReminderPlan {
  /** What the instants were computed from: a run takes a plan only for terms that match it. */
  basis: ReminderBasis;
  /** After quiet-hour deferral, in order, one per instant; none at or after expiry. */
  reminders: ScheduledReminder[];
}

export interface Customer {
  name?: string;
  email?: string;
  phone?: string;
  locale?: string;
  timezone?: string;
}

/** The address a channel reaches the customer at, when they gave one. */
export const contactFor = (customer: Customer | null | undefined, channel: Channel): string | undefined =>
  (channel === 'email' ? customer?.email : customer?.phone) || undefined;

export interface LineItem {
  name: string;
  quantity: number;
  unitAmount: number;
}

/** Everything a link was created with. Times are ISO 8601 strings in UTC. */
export interface LinkTerms {
  id: string;
  accountId: string;
  token: string;
  amount: number;
  currency: string;
  description: string | null;
  lineItems: LineItem[];
  reference: string | null;
  customer: Customer | null;
  customerId: string | null;
  createdAt: string;
  expiresAt: string;
  /** null: unlimited until expiry. */
  maxPayments: number | null;
  acceptPartial: boolean;
  minPartialAmount: number | null;
  channels: Channel[];
  reminders: ReminderPolicy;
  /** null: the merchant switched quiet hours off. */
  quietHours: QuietHours | null;
  /** IANA zone used for quiet hours: the customer's, else the account's. */
  timezone: string;
  invoiceId: string | null;
  orderId: string | null;
  campaignId: string | null;
  metadata: Record<string, string>;
  successUrl: string | null;
  /** Tell the customer when the link expires unpaid. */
  notifyOnExpiry: boolean;
  /** The expired or cancelled link this one replaces. */
  reissuedFrom?: string | null;
}

/** Knobs that tests shorten and production leaves at their defaults. */
export interface LifecycleSettings {
  /**
   * How long a closed link still listens for payments that were under way when it closed. Only
   * runs started before `lean-lifecycle`: a lean run ends at the close, and the callback path
   * records a payment that finds no workflow (src/payments/late-payments.ts).
   */
  latePaymentWindowMs: number;
  /** Continue-as-new once history passes this many events (Temporal suggests it far later). */
  continueAsNewAfterEvents: number;
  /**
   * Continue-as-new once a run has received this many signals (`final-close` runs): Temporal
   * refuses a run's signals past `history.maximumSignalsPerExecution` (10,000 by default), which
   * a cluster may set lower; keep this well below it. Absent from links created before it: the
   * default applies.
   */
  continueAsNewAfterSignals?: number;
}

export const DEFAULT_LIFECYCLE_SETTINGS = {
  latePaymentWindowMs: 60 * 60 * 1000,
  continueAsNewAfterEvents: 2000,
  continueAsNewAfterSignals: 1000,
} satisfies Required<LifecycleSettings>;

/** The live state of a link; carried across continue-as-new. */
export interface LinkState {
  terms: LinkTerms;
  status: LinkStatus;
  amountPaid: number;
  paymentsCount: number;
  /**
   * Provider payment ids already seen: only runs that started before payments were de-duplicated
   * by Postgres (the `ledger-in-postgres` patch) keep it.
   */
  seenPaymentIds?: string[];
  /** Reminders scheduled at or before this instant have been handled. */
  reminderCursor: string;
  /**
   * The instants of the current terms' reminders (`precomputed-instants` runs): carried across
   * continue-as-new, so the next run does not compute them again.
   */
  reminderPlan?: ReminderPlan;
  closedAt: string | null;
}

/** What the query and the updates answer: the state plus what the workflow is waiting for. */
export interface LinkView extends LinkState {
  /** The next reminder, after quiet hours; null when none is left or the link is closed. */
  nextReminderAt: string | null;
}

export interface PaymentLinkWorkflowInput {
  terms: LinkTerms;
  settings: LifecycleSettings;
  /** Present when continuing as new. */
  resumeFrom?: LinkState;
  /**
   * The reminder instants of `terms`, computed by the API at create. Absent from a start by an
   * older API (the run then asks `planReminders`); ignored by runs from before `precomputed-instants`.
   */
  reminderPlan?: ReminderPlan;
  /** Signals the previous run had received but not applied when it handed over: applied first, in order. */
  carried?: CarriedSignal[];
}

/** A signal received by one run and applied by the next (`final-close` hand-overs). */
export type CarriedSignal =
  | { kind: 'payment'; payment: PaymentReceived }
  | { kind: 'documentSettled'; settled: DocumentSettled };

export type PaymentLinkOutcome =
  | { status: LinkStatus; amountPaid: number; paymentsCount: number }
  | { status: 'rejected'; reason: PersistRefusal['outcome'] };

/** Why the link's row could not be stored; the workflow then ends without a link. */
export type PersistRefusal =
  | { outcome: 'duplicate_reference' }
  /** Another open link already collects for the invoice or order: there is one at a time. */
  | { outcome: 'document_has_open_link'; openLinkId: string }
  /** Postgres refused the data itself (for example text it cannot store). */
  | { outcome: 'invalid_data'; message: string };
export type PersistOutcome = { outcome: 'created' } | PersistRefusal;

// ---- messages in ----

export interface PaymentReceived {
  provider: string;
  paymentId: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  sessionId?: string;
  paymentProfileId?: string;
  /** Paid through a session the link had replaced or no longer stood behind. */
  staleSession?: boolean;
}

export interface CancelRequest {
  reason?: string;
  /** Tell the customer the request was cancelled. */
  notifyCustomer?: boolean;
}

export interface ExtendExpiryRequest {
  expiresAt: string;
}

export interface LinkChanges {
  description?: string | null;
  metadata?: Record<string, string>;
  reminders?: ReminderPolicy;
  quietHours?: QuietHours | null;
}

export interface ResendRequest {
  channel: Channel;
}

/** Another link collected the invoice or order this link was for: this one has nothing left to do. */
export interface DocumentSettled {
  byLinkId: string;
  invoiceId: string | null;
  orderId: string | null;
}

export const paymentReceivedSignal = defineSignal<[PaymentReceived]>('paymentReceived');
export const documentSettledSignal = defineSignal<[DocumentSettled]>('documentSettled');
/** Resolves once the link row exists, so the API can answer with read-your-writes. */
export const linkCreatedUpdate = defineUpdate<LinkView>('linkCreated');
export const cancelUpdate = defineUpdate<LinkView, [CancelRequest]>('cancel');
/**
 * The optional second argument of `extendExpiry` and `updateLink`: the reminder instants of the
 * terms as the change leaves them, computed by the caller (`precomputed-instants`). A plan whose
 * basis no longer matches (another change got there first) is replaced by `planReminders`'.
 */
export const extendExpiryUpdate = defineUpdate<LinkView, [ExtendExpiryRequest, ReminderPlan?]>(
  'extendExpiry',
);
export const updateLinkUpdate = defineUpdate<LinkView, [LinkChanges, ReminderPlan?]>('updateLink');
export const resendUpdate = defineUpdate<LinkView, [ResendRequest]>('resend');
/**
 * Asks a running link to continue as new at its next quiet moment: sent by a callback whose
 * signal Temporal refused for the run's signal limit (an update is not a signal). Refused when
 * the link is closed or a hand-over is already due; runs before `final-close` have no handler.
 */
export const handOverUpdate = defineUpdate<void>('handOver');
export const linkStateQuery = defineQuery<LinkView>('linkState');

/** ApplicationFailure types the workflow raises; the API maps them to HTTP statuses. */
export const FailureTypes = {
  DuplicateReference: 'DuplicateReference',
  LinkTerminal: 'LinkTerminal',
  InvalidChange: 'InvalidChange',
  ChannelUnavailable: 'ChannelUnavailable',
  DocumentHasOpenLink: 'DocumentHasOpenLink',
  /** Postgres refused the data (raised by activities, and by the workflow for a refused create). */
  InvalidData: 'InvalidData',
} as const;

// ---- link events (the timeline) ----

export const EventTypes = {
  created: 'payment_link.created',
  viewed: 'link.viewed',
  sessionStarted: 'payment_session.started',
  sessionFailed: 'payment_session.failed',
  sent: 'payment_link.sent',
  reminded: 'payment_link.reminded',
  updated: 'payment_link.updated',
  expiryExtended: 'payment_link.expiry_extended',
  partiallyPaid: 'payment_link.partially_paid',
  paid: 'payment_link.paid',
  completed: 'payment_link.completed',
  expired: 'payment_link.expired',
  cancelled: 'payment_link.cancelled',
  paymentSucceeded: 'payment.succeeded',
  paymentFlagged: 'payment.flagged',
  paymentRejected: 'payment.rejected',
  /** Written by the API (src/payments/refunds.ts), never by the workflow. */
  paymentRefunded: 'payment.refunded',
  /** A stored provider event nobody had applied, applied by the reconciler (src/payments/reconcile-events.ts). */
  paymentReconciled: 'payment.reconciled',
  /** An operator's `paylinks links repair` restarted the lifecycle of a link whose workflow had ended. */
  linkRepaired: 'payment_link.repaired',
  notificationSent: 'notification.sent',
  notificationDelivered: 'notification.delivered',
  notificationUndelivered: 'notification.undelivered',
  notificationFailed: 'notification.failed',
  notificationSuppressed: 'notification.suppressed',
  customerOptedOut: 'customer.opted_out',
  /** Something the link could not store: an operator looks at it; the lifecycle carries on. */
  linkError: 'link.error',
} as const;
export type EventType = (typeof EventTypes)[keyof typeof EventTypes];

/** The timeline entry each status is entered with. */
export const STATUS_EVENTS: Record<LinkStatus, EventType> = {
  active: EventTypes.created,
  partially_paid: EventTypes.partiallyPaid,
  paid: EventTypes.paid,
  completed: EventTypes.completed,
  expired: EventTypes.expired,
  cancelled: EventTypes.cancelled,
};
