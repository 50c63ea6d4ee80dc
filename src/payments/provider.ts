import type { IncomingHttpHeaders } from 'node:http';
import { SIGNATURE_HEADER, type SignatureCheck, verifySignature } from '../signing';
import { type ProviderEvent, ProviderEventSchema } from './sandbox-provider';
import type { SessionRow } from './session-store';

/** What Paylinks needs of a payment provider; each provider is one implementation. */
export interface PaymentProvider {
  readonly name: string;
  /** Where the customer goes to pay a session: the provider's hosted checkout. */
  checkoutUrl(session: SessionRow): string;
  /** Checks a callback's authenticity over its raw bytes. */
  verifyCallback(rawBody: Buffer, headers: IncomingHttpHeaders): SignatureCheck;
  /** The callback as an event; throws when it is not one. */
  parseEvent(rawBody: Buffer): ProviderEvent;
}

export type ProviderRegistry = Record<string, PaymentProvider>;

export function sandboxProvider(secret: string): PaymentProvider {
  return {
    name: 'sandbox',
    checkoutUrl: (session) => `/sandbox/checkout/${encodeURIComponent(session.id)}`,
    verifyCallback: (rawBody, headers) => {
      const header = headers[SIGNATURE_HEADER];
      return verifySignature(secret, rawBody, Array.isArray(header) ? header[0] : header);
    },
    parseEvent: (rawBody) => ProviderEventSchema.parse(JSON.parse(rawBody.toString('utf8'))),
  };
}
