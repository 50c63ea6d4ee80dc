import { z } from 'zod';

export const privateWebhooksEnv = {
  /** Accept webhook URLs on private or loopback addresses; unset: only under `npm start` in development. */
  ALLOW_PRIVATE_WEBHOOK_URLS: z.enum(['true', 'false']).optional(),
};

/**
 * Whether webhooks may reach non-public addresses. Only an explicit setting (or the all-in-one
 * development command, whose receivers listen on loopback) allows it; production never does.
 */
export function resolveAllowPrivateWebhooks(
  e: { ALLOW_PRIVATE_WEBHOOK_URLS?: 'true' | 'false'; NODE_ENV: string },
  devDefaults: boolean,
): { allow: boolean } | { problem: string } {
  if (e.ALLOW_PRIVATE_WEBHOOK_URLS === 'true' && e.NODE_ENV === 'production')
    return {
      problem:
        'ALLOW_PRIVATE_WEBHOOK_URLS=true is refused when NODE_ENV=production: webhooks would reach internal hosts',
    };
  return { allow: (e.ALLOW_PRIVATE_WEBHOOK_URLS ?? String(devDefaults)) === 'true' };
}
