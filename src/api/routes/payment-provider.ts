import { Router } from 'express';
import { z } from 'zod';
import type { ProviderSettings, ProviderSettingsView } from '../../payments/provider-settings';
import { accountOf } from '../auth';
import { parseBody } from '../validation';

export const PaymentProviderSchema = z.discriminatedUnion('provider', [
  z.strictObject({ provider: z.literal('sandbox') }),
  z.strictObject({
    provider: z.literal('stripe'),
    secret_key: z
      .string()
      .max(255)
      .regex(
        /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/,
        'must be a Stripe secret or restricted key (sk_… or rk_…)',
      ),
    webhook_secret: z
      .string()
      .max(255)
      .regex(/^whsec_[A-Za-z0-9+/=_-]+$/, "must be the webhook endpoint's signing secret (whsec_…)"),
  }),
]);

/** `PUT/GET /v1/payment_provider`: the account's provider; its secrets are never returned. */
export function paymentProviderRoutes({
  providerSettings,
  publicBaseUrl,
}: {
  providerSettings: ProviderSettings;
  publicBaseUrl: string;
}): Router {
  const router = Router();
  const serialize = (accountId: string, v: ProviderSettingsView) => ({
    object: 'payment_provider',
    provider: v.provider,
    secret_key_prefix: v.secretKeyPrefix,
    webhook_secret_prefix: v.webhookSecretPrefix,
    // Where Stripe sends this account's events (registered in Stripe's dashboard).
    webhook_url:
      v.provider === 'stripe'
        ? `${publicBaseUrl}/v1/callbacks/stripe/${encodeURIComponent(accountId)}`
        : null,
    livemode: v.secretKeyPrefix ? /_live_/.test(v.secretKeyPrefix) : false,
    updated_at: v.updatedAt?.toISOString() ?? null,
  });

  router.put('/payment_provider', async (req, res) => {
    const body = parseBody(PaymentProviderSchema, req.body);
    const accountId = accountOf(req).id;
    const saved = await providerSettings.set(
      accountId,
      body.provider === 'stripe'
        ? { provider: 'stripe', secretKey: body.secret_key, webhookSecret: body.webhook_secret }
        : { provider: 'sandbox' },
    );
    res.json(serialize(accountId, saved));
  });
  router.get('/payment_provider', async (req, res) => {
    const accountId = accountOf(req).id;
    res.json(serialize(accountId, await providerSettings.get(accountId)));
  });
  return router;
}
