/**
 * The events of the built-in `sandbox` provider, whose callbacks are signed with the Paylinks
 * signature scheme (src/signing.ts) exactly as a remote provider's would be.
 */
import { z } from 'zod';
import { idOf, text, toStorableText } from '../api/text';
import { ID_PREFIX } from '../ids';

/**
 * What identifies the event and the money must be storable, or the event is refused (4xx, nothing
 * stored); descriptive text is made storable instead: refusing a signed payment over its card
 * brand would leave the money untracked while the provider retries forever.
 */
const described = (max: number) => z.string().max(max).transform(toStorableText);

export const ProviderEventSchema = z.object({
  id: text(255, 1),
  type: z.enum(['payment.succeeded', 'payment.failed']),
  data: z.object({
    session_id: idOf(ID_PREFIX.session, 'payment session'),
    payment_id: text(255, 1),
    amount: z.int().positive(),
    currency: z.string().length(3),
    failure_reason: described(500).optional(),
    payment_profile: z
      .object({
        token: text(255, 1),
        brand: described(40).optional(),
        last4: described(4).optional(),
      })
      .optional(),
  }),
});
export type ProviderEvent = z.output<typeof ProviderEventSchema>;
