/**
 * Stripe behind the PaymentProvider interface, through the official `stripe` package: a session
 * is paid in a Checkout Session, refunds are Stripe refunds, and Stripe's webhook events about
 * Checkout Sessions become provider events. Amounts and currencies come from Stripe's event.
 * Every amount crosses in Stripe's minor units, converted from and to ISO 4217's (stripe-units.ts).
 */
import Stripe from 'stripe';
import type { LinkRow } from '../links/link-store';
import type { SignatureCheck } from '../signing';
import type { Checkout, PaymentProvider, ProviderRefund, RefundRequest } from './provider';
import type { StripeKeys } from './provider-settings';
import type { ProviderEvent } from './sandbox-provider';
import type { SessionRow } from './session-store';
import { fromStripeAmount, toStripeAmount } from './stripe-units';

/** Stripe's own default, stated: a signature older than 5 minutes is refused. */
export const STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300;
/** Stripe refuses a Checkout Session expiring sooner than 30 minutes after its creation. */
const STRIPE_MIN_EXPIRY_SECONDS = 30 * 60;

export const METADATA = {
  account: 'paylinks_account_id',
  link: 'paylinks_link_id',
  session: 'paylinks_session_id',
  save: 'paylinks_save_payment_method',
} as const;

/** The checkout events Paylinks acts on; the README lists them for the Stripe dashboard. */
export const STRIPE_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
] as const;

export interface StripeOptions {
  /** STRIPE_API_BASE_URL (stripe-mock in tests); undefined: Stripe's own API. */
  apiBaseUrl: string | undefined;
  publicBaseUrl: string;
  /** Sees every request the client makes (tests record them). */
  onRequest?: (event: Stripe.RequestEvent) => void;
}

export function stripeClient(secretKey: string, apiBaseUrl: string | undefined): Stripe {
  const config: Stripe.StripeConfig = { maxNetworkRetries: 2, timeout: 20_000 };
  if (apiBaseUrl) {
    const url = new URL(apiBaseUrl);
    config.host = url.hostname;
    config.protocol = url.protocol === 'http:' ? 'http' : 'https';
    config.port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  }
  return new Stripe(secretKey, config);
}

/** What went wrong with a Stripe-Signature header, in the words of the sandbox's checks. */
export function signatureProblem(err: unknown): Exclude<SignatureCheck, 'ok'> {
  const message = err instanceof Error ? err.message : '';
  if (/No stripe-signature header/i.test(message)) return 'missing';
  if (/tolerance/i.test(message)) return 'stale';
  if (/Unable to extract timestamp/i.test(message)) return 'malformed';
  return 'mismatch';
}

export type StripeProvider = PaymentProvider & {
  /** Stripe's event, verified over the raw body; throws a signature error otherwise. */
  verifyEvent(rawBody: Buffer, signature: string | undefined): Stripe.Event;
  /** What the event means for a payment session; undefined: nothing to do (not ours, or pending). */
  toProviderEvent(event: Stripe.Event): Promise<ProviderEvent | undefined>;
};

export function stripeProvider(keys: StripeKeys, options: StripeOptions): StripeProvider {
  const stripe = stripeClient(keys.secretKey, options.apiBaseUrl);
  if (options.onRequest) stripe.on('request', options.onRequest);
  const linkUrl = (link: LinkRow) => `${options.publicBaseUrl}/l/${encodeURIComponent(link.token)}`;

  async function savedMethod(paymentIntent: string) {
    const intent = await stripe.paymentIntents.retrieve(paymentIntent, { expand: ['payment_method'] });
    const method = intent.payment_method;
    if (!method) return undefined;
    if (typeof method === 'string') return { token: method };
    return {
      token: method.id,
      ...(method.card?.brand ? { brand: method.card.brand } : {}),
      ...(method.card?.last4 ? { last4: method.card.last4 } : {}),
    };
  }

  return {
    name: 'stripe',

    async openCheckout(session: SessionRow, link: LinkRow, { savePaymentMethod }): Promise<Checkout> {
      const metadata = {
        [METADATA.account]: session.account_id,
        [METADATA.link]: link.id,
        [METADATA.session]: session.id,
        ...(savePaymentMethod ? { [METADATA.save]: 'true' } : {}),
      };
      const currency = session.currency.toLowerCase();
      // Stripe's units, not ISO 4217's (stripe-units.ts); an amount it cannot take throws here.
      const stripeAmount = (amount: number) => toStripeAmount(amount, session.currency);
      const itemsTotal = link.line_items.reduce((sum, i) => sum + i.quantity * i.unitAmount, 0);
      // The link's items when the session pays all of them; one line for any other amount.
      const lineItems: Stripe.Checkout.SessionCreateParams.LineItem[] =
        link.line_items.length > 0 && itemsTotal === session.amount
          ? link.line_items.map((i) => ({
              quantity: i.quantity,
              price_data: {
                currency,
                unit_amount: stripeAmount(i.unitAmount),
                product_data: { name: i.name },
              },
            }))
          : [
              {
                quantity: 1,
                price_data: {
                  currency,
                  unit_amount: stripeAmount(session.amount),
                  product_data: { name: link.description ?? 'Payment' },
                },
              },
            ];
      const now = Math.floor(Date.now() / 1000);
      const created = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: lineItems,
          ...(link.customer?.email ? { customer_email: link.customer.email } : {}),
          client_reference_id: link.id,
          metadata,
          payment_intent_data: {
            metadata,
            ...(savePaymentMethod ? { setup_future_usage: 'off_session' as const } : {}),
          },
          success_url: `${linkUrl(link)}/thanks?checkout_session={CHECKOUT_SESSION_ID}`,
          cancel_url: linkUrl(link),
          // The session's 30 minutes, or Stripe's minimum when the request took some of them.
          expires_at: Math.max(
            Math.ceil(session.expires_at.getTime() / 1000),
            now + STRIPE_MIN_EXPIRY_SECONDS + 60,
          ),
        },
        { idempotencyKey: `paylinks-checkout-${session.id}` },
      );
      if (!created.url) throw new Error(`Stripe returned Checkout Session ${created.id} without a url`);
      return {
        url: created.url,
        providerSessionId: created.id,
        ...(created.expires_at ? { expiresAt: new Date(created.expires_at * 1000) } : {}),
      };
    },

    /** The session's link closed: the Checkout Session stops taking payment (a retry is harmless). */
    async expireCheckout(providerSessionId: string): Promise<void> {
      await stripe.checkout.sessions.expire(
        providerSessionId,
        {},
        {
          idempotencyKey: `paylinks-expire-${providerSessionId}`,
        },
      );
    },

    async refund(request: RefundRequest): Promise<ProviderRefund> {
      const refund = await stripe.refunds.create(
        {
          payment_intent: request.providerPaymentId,
          amount: toStripeAmount(request.amount, request.currency),
          metadata: { paylinks_refund_id: request.refundId },
        },
        { idempotencyKey: `paylinks-refund-${request.refundId}` },
      );
      const status =
        refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' ? 'failed' : 'pending';
      return {
        providerRefundId: refund.id,
        status,
        ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
      };
    },

    verifyEvent(rawBody: Buffer, signature: string | undefined): Stripe.Event {
      return stripe.webhooks.constructEvent(
        rawBody,
        signature ?? '',
        keys.webhookSecret,
        STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      );
    },

    async toProviderEvent(event: Stripe.Event): Promise<ProviderEvent | undefined> {
      if (!(STRIPE_EVENTS as readonly string[]).includes(event.type)) return undefined;
      const checkout = event.data.object as Stripe.Checkout.Session;
      const sessionId = checkout.metadata?.[METADATA.session];
      if (!sessionId) return undefined; // a Checkout Session Paylinks did not open
      const paymentIntent =
        typeof checkout.payment_intent === 'string' ? checkout.payment_intent : checkout.payment_intent?.id;
      const currency = (checkout.currency ?? '').toUpperCase();
      const base = {
        id: event.id,
        data: {
          session_id: sessionId,
          payment_id: paymentIntent ?? checkout.id,
          // Stripe's units back to ISO 4217's: what Stripe took, as Paylinks counts it.
          amount: fromStripeAmount(checkout.amount_total ?? 0, currency),
          currency,
        },
      };
      switch (event.type) {
        case 'checkout.session.completed':
        case 'checkout.session.async_payment_succeeded': {
          // A delayed method (a bank debit) completes unpaid: its outcome is the async event.
          if (checkout.payment_status !== 'paid') return undefined;
          const save = checkout.metadata?.[METADATA.save] === 'true' && paymentIntent;
          const method = save ? await savedMethod(paymentIntent) : undefined;
          return {
            ...base,
            type: 'payment.succeeded',
            data: { ...base.data, ...(method ? { payment_profile: method } : {}) },
          };
        }
        case 'checkout.session.async_payment_failed':
          return {
            ...base,
            type: 'payment.failed',
            data: { ...base.data, failure_reason: 'async_payment_failed' },
          };
        case 'checkout.session.expired':
          return { ...base, type: 'payment.failed', data: { ...base.data, failure_reason: 'expired' } };
        default:
          return undefined;
      }
    },
  };
}
