import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { secretPrefix } from '../../src/payments/provider-settings';
import { signatureProblem, stripeProvider } from '../../src/payments/stripe-provider';

const SECRET = 'whsec_unitTestSecret';
// No request is made: only the webhook helpers and the event mapping are used.
const provider = stripeProvider(
  { secretKey: 'sk_test_unit', webhookSecret: SECRET },
  { apiBaseUrl: 'http://127.0.0.1:9', publicBaseUrl: 'https://pay.example.test' },
);
const stripe = new Stripe('sk_test_unit');

const event = (type: string, object: Record<string, unknown>) =>
  ({ id: 'evt_1', object: 'event', type, data: { object } }) as unknown as Stripe.Event;
const checkout = {
  id: 'cs_test_1',
  object: 'checkout.session',
  amount_total: 1999,
  currency: 'eur',
  payment_status: 'paid',
  payment_intent: 'pi_1',
  metadata: { paylinks_session_id: 'ps_1' },
};

describe('the Stripe adapter', () => {
  it('shows a prefix of a secret, never the secret', () => {
    expect(secretPrefix('sk_test_51AbcdefSecretPart')).toBe('sk_test_51Ab…');
    expect(secretPrefix('rk_live_51AbcdefSecretPart')).toBe('rk_live_51Ab…');
    expect(secretPrefix('whsec_abcdefghijkl')).toBe('whsec_abcd…');
  });

  it('verifies over the raw bytes and names what is wrong with a signature', () => {
    const payload = JSON.stringify(event('checkout.session.completed', checkout));
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
    expect(provider.verifyEvent(Buffer.from(payload), header).id).toBe('evt_1');
    const problem = (body: string, h: string | undefined) => {
      try {
        provider.verifyEvent(Buffer.from(body), h);
        return 'ok';
      } catch (err) {
        return signatureProblem(err);
      }
    };
    expect(problem(`${payload} `, header)).toBe('mismatch');
    expect(problem(payload, undefined)).toBe('missing');
    expect(problem(payload, 'nonsense')).toBe('malformed');
    const old = Math.floor(Date.now() / 1000) - 301;
    expect(
      problem(payload, stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: old })),
    ).toBe('stale');
  });

  it("maps Checkout Session events to payments with Stripe's amount; ignores others and unpaid completions", async () => {
    expect(await provider.toProviderEvent(event('checkout.session.completed', checkout))).toEqual({
      id: 'evt_1',
      type: 'payment.succeeded',
      data: { session_id: 'ps_1', payment_id: 'pi_1', amount: 1999, currency: 'EUR' },
    });
    expect(
      await provider.toProviderEvent(
        event('checkout.session.completed', { ...checkout, payment_status: 'unpaid' }),
      ),
    ).toBeUndefined();
    expect(await provider.toProviderEvent(event('checkout.session.expired', checkout))).toMatchObject({
      type: 'payment.failed',
      data: { failure_reason: 'expired' },
    });
    expect(await provider.toProviderEvent(event('charge.refunded', checkout))).toBeUndefined();
    expect(
      await provider.toProviderEvent(event('checkout.session.completed', { ...checkout, metadata: {} })),
    ).toBeUndefined();
  });
});
