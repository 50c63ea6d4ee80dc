import express, { Router } from 'express';
import type { ProviderRegistry } from '../../payments/provider';
import type { ProviderEvents } from '../../payments/provider-events';
import type { ProviderEvent } from '../../payments/sandbox-provider';
import { ApiError } from '../errors';

export interface ProviderCallbackDeps {
  providers: ProviderRegistry;
  providerEvents: ProviderEvents;
}

/**
 * `POST /v1/callbacks/:provider`: verify the signature over the raw body, then hand the event
 * over (src/payments/provider-events.ts); 2xx only once that is durable, so a provider's retry is
 * always safe.
 */
export function providerCallbackRoutes(deps: ProviderCallbackDeps): Router {
  const { providers, providerEvents } = deps;
  const router = Router();

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
