import type { IncomingHttpHeaders } from 'node:http';
import type { LinkRow } from '../links/link-store';
import { SIGNATURE_HEADER, type SignatureCheck, verifySignature } from '../signing';
import { type ProviderEvent, ProviderEventSchema } from './sandbox-provider';
import type { SessionRow } from './session-store';

/** Where the customer pays a session: the provider's hosted checkout. */
export interface Checkout {
  url: string;
  /** The provider's own id of this checkout (a Stripe Checkout Session id). */
  providerSessionId?: string;
  /** Until when the provider accepts payment through it, when later than the session's own expiry. */
  expiresAt?: Date;
}

export interface RefundRequest {
  /** Paylinks' id of the refund: the provider's idempotency key, so a retry refunds once. */
  refundId: string;
  providerPaymentId: string;
  amount: number;
  currency: string;
}

export interface ProviderRefund {
  providerRefundId: string;
  status: 'succeeded' | 'pending' | 'failed';
  failureReason?: string;
}

/** What Paylinks needs of a payment provider; each provider is one implementation. */
export interface PaymentProvider {
  readonly name: string;
  /** Opens the session's checkout at the provider. */
  openCheckout(
    session: SessionRow,
    link: LinkRow,
    options: { savePaymentMethod: boolean },
  ): Promise<Checkout>;
  /** Gives back part or all of a payment it took. */
  refund(request: RefundRequest): Promise<ProviderRefund>;
  /**
   * Closes a checkout it hosts (`Checkout.providerSessionId`) so that it takes no payment; throws
   * with the provider's `statusCode` when it cannot. Providers whose checkout Paylinks hosts (the
   * sandbox) have none: closing the session closes it.
   */
  expireCheckout?(providerSessionId: string): Promise<void>;
}

/** A provider whose callbacks arrive at `POST /v1/callbacks/:provider`, signed with one secret. */
export interface SignedCallbacks {
  /** Checks a callback's authenticity over its raw bytes. */
  verifyCallback(rawBody: Buffer, headers: IncomingHttpHeaders): SignatureCheck;
  /** The callback as an event; throws when it is not one. */
  parseEvent(rawBody: Buffer): ProviderEvent;
}

export type ProviderRegistry = Record<string, SignedCallbacks>;

export function sandboxProvider(secret: string): PaymentProvider & SignedCallbacks {
  return {
    name: 'sandbox',
    openCheckout: async (session) => ({ url: `/sandbox/checkout/${encodeURIComponent(session.id)}` }),
    // The sandbox moves no money: its refund succeeds at once.
    refund: async ({ refundId }) => ({ providerRefundId: `sbre_${refundId}`, status: 'succeeded' }),
    verifyCallback: (rawBody, headers) => {
      const header = headers[SIGNATURE_HEADER];
      return verifySignature(secret, rawBody, Array.isArray(header) ? header[0] : header);
    },
    parseEvent: (rawBody) => ProviderEventSchema.parse(JSON.parse(rawBody.toString('utf8'))),
  };
}
