/**
 * The provider each account pays through, built from its settings: Stripe with its own keys, or
 * the sandbox (on under `npm start` in development, elsewhere only with SANDBOX_ENABLED=true).
 */
import type { PaymentProvider } from './provider';
import type { ProviderSettings } from './provider-settings';
import { type StripeOptions, type StripeProvider, stripeProvider } from './stripe-provider';

export function createProviderDirectory(deps: {
  settings: ProviderSettings;
  sandbox: PaymentProvider | undefined;
  stripe: StripeOptions;
}) {
  const { settings, sandbox } = deps;
  // One client per key, kept: each holds its own connection pool.
  const clients = new Map<string, StripeProvider>();

  async function stripeFor(accountId: string): Promise<StripeProvider | undefined> {
    const keys = await settings.stripeKeys(accountId);
    if (!keys) return undefined;
    const id = `${keys.secretKey}\u0000${keys.webhookSecret}`;
    let provider = clients.get(id);
    if (!provider) {
      provider = stripeProvider(keys, deps.stripe);
      clients.set(id, provider);
    }
    return provider;
  }

  return {
    stripeFor,
    /** Where new payment sessions of this account open; undefined: paying is unavailable. */
    async forAccount(accountId: string): Promise<PaymentProvider | undefined> {
      return (await stripeFor(accountId)) ?? sandbox;
    },
    /** The provider that took a payment (for its refund), if the account can still reach it. */
    async byName(accountId: string, name: string): Promise<PaymentProvider | undefined> {
      if (name === 'stripe') return stripeFor(accountId);
      if (name === 'sandbox') return sandbox;
      return undefined;
    },
  };
}

export type ProviderDirectory = ReturnType<typeof createProviderDirectory>;
