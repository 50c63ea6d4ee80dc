/**
 * The events of the built-in `sandbox` provider, whose callbacks are signed with the Paylinks
 * signature scheme (src/signing.ts) exactly as a remote provider's would be.
 */
import { z } from 'zod';

export const ProviderEventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.enum(['payment.succeeded', 'payment.failed']),
  data: z.object({
    session_id: z.string().min(1),
    payment_id: z.string().min(1).max(255),
    amount: z.int().positive(),
    currency: z.string().length(3),
    failure_reason: z.string().max(500).optional(),
    payment_profile: z
      .object({
        token: z.string().min(1).max(255),
        brand: z.string().max(40).optional(),
        last4: z.string().max(4).optional(),
      })
      .optional(),
  }),
});
export type ProviderEvent = z.infer<typeof ProviderEventSchema>;
