import express, { Router } from 'express';
import type { ProviderRegistry } from '../../payments/provider';
import type { ProviderDirectory } from '../../payments/provider-directory';
import type { ProviderEvents } from '../../payments/provider-events';
import type { ProviderEvent } from '../../payments/sandbox-provider';
import { signatureProblem } from '../../payments/stripe-provider';
import { ApiError } from '../errors';

export interface ProviderCallbackDeps {
  providers: ProviderRegistry;
  directory: ProviderDirectory;
  providerEvents: ProviderEvents;
}

/**
 * `POST /v1/callbacks/:provider`: verify the signature over the raw body, then hand the event
 * over (src/payments/provider-events.ts); 2xx only once that is durable, so a provider's retry is
 * always safe.
 */
export function providerCallbackRoutes(deps: ProviderCallbackDeps): Router {
  const { providers, directory, providerEvents } = deps;
  const router = Router();

  /**
   * `POST /v1/callbacks/stripe/:account_id`: the account's Stripe webhook endpoint, verified with
   * its own signing secret over the raw body (stripe.webhooks.constructEvent, 5 minutes).
   */
  router.post('/stripe/:account_id', express.raw({ type: () => true, limit: '256kb' }), async (req, res) => {
    const accountId = req.params.account_id;
    const stripe = await directory.stripeFor(accountId);
    if (!stripe) throw ApiError.notFound('Stripe webhook endpoint', accountId);
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = req.headers['stripe-signature'];
    let verified: ReturnType<typeof stripe.verifyEvent>;
    try {
      verified = stripe.verifyEvent(raw, Array.isArray(header) ? header[0] : header);
    } catch (err) {
      const check = signatureProblem(err);
      throw new ApiError(
        400,
        'authentication_error',
        `signature_${check}`,
        `Invalid Stripe-Signature (${check})`,
      );
    }
    const event = await stripe.toProviderEvent(verified);
    // Another event type, or a checkout still waiting for a delayed payment: nothing to apply.
    if (!event) return void res.json({ received: true, ignored: true });
    const { duplicate } = await providerEvents.receive('stripe', event, raw, accountId);
    res.json(duplicate ? { received: true, duplicate: true } : { received: true });
  });

  router.post('/:provider', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const provider = req.params.provider;
    const implementation = providers[provider];
    if (!implementation) throw ApiError.notFound('payment provider', provider);
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const check = implementation.verifyCallback(raw, req.headers);
    if (check !== 'ok') {
      throw new ApiError(
        400,
        'authentication_error',
        `signature_${check}`,
        `Invalid Paylinks-Signature (${check})`,
      );
    }
    let event: ProviderEvent;
    try {
      event = implementation.parseEvent(raw);
    } catch {
      throw ApiError.invalid('The event is not a valid payment event', undefined, 'event_invalid');
    }
    const { duplicate } = await providerEvents.receive(provider, event, raw);
    res.json(duplicate ? { received: true, duplicate: true } : { received: true });
  });

  return router;
}
