import express, { type Response, Router } from 'express';
import { ZodError } from 'zod';
import { ID_PREFIX, isIdShaped } from '../../ids';
import type { ProviderRegistry } from '../../payments/provider';
import type { ProviderDirectory } from '../../payments/provider-directory';
import type { ProviderEvents } from '../../payments/provider-events';
import { type ProviderEvent, ProviderEventSchema } from '../../payments/sandbox-provider';
import { signatureProblem } from '../../payments/stripe-provider';
import { StripeUnitsError } from '../../payments/stripe-units';
import { ApiError } from '../errors';

/** 400 `event_invalid`, naming the field when the event parsed as JSON but a field is wrong. */
const invalidEvent = (err: unknown) =>
  ApiError.invalid(
    'The event is not a valid payment event',
    err instanceof ZodError ? err.issues[0]?.path.join('.') || undefined : undefined,
    'event_invalid',
  );

/** 202 `deferred`: stored, and applied once the link's workflow takes it (src/payments/deferred-signals.ts). */
function answer(res: Response, received: { duplicate: boolean; deferred?: boolean }): void {
  if (received.deferred) res.status(202).json({ received: true, deferred: true });
  else res.json(received.duplicate ? { received: true, duplicate: true } : { received: true });
}

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
    // An id that cannot be an account's is answered like an unknown one, before any query.
    const stripe = isIdShaped(ID_PREFIX.account, accountId)
      ? await directory.stripeFor(accountId)
      : undefined;
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
    let converted: Awaited<ReturnType<typeof stripe.toProviderEvent>>;
    try {
      converted = await stripe.toProviderEvent(verified);
    } catch (err) {
      // An amount or currency Paylinks cannot count in: refused, naming it, never rounded.
      if (err instanceof StripeUnitsError)
        throw ApiError.invalid(
          'The event is not a valid payment event',
          `data.${err.param}`,
          'event_invalid',
        );
      throw err;
    }
    // Another event type, or a checkout still waiting for a delayed payment: nothing to apply.
    if (!converted) return void res.json({ received: true, ignored: true });
    // Signed is not the same as storable: the same checks as the sandbox's events.
    const parsed = ProviderEventSchema.safeParse(converted);
    if (!parsed.success) throw invalidEvent(parsed.error);
    const event = parsed.data;
    answer(res, await providerEvents.receive('stripe', event, raw, accountId));
  });

  router.post('/:provider', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const provider = req.params.provider;
    // An own entry only: `__proto__` or `constructor` is not a provider.
    const implementation = Object.hasOwn(providers, provider) ? providers[provider] : undefined;
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
    } catch (err) {
      throw invalidEvent(err);
    }
    answer(res, await providerEvents.receive(provider, event, raw));
  });

  return router;
}
