import type { LinkChange, LinkStore } from '../src/links/link-store';
import type { LinkTerms } from '../workflows/payment-link/contract';
import { EventTypes } from '../workflows/payment-link/contract';

export interface LinkActivityDeps {
  links: LinkStore;
}

export function createLinkActivities({ links }: LinkActivityDeps) {
  return {
    /** Stores the link row and its `created` event; safe to retry. */
    async persistLink(terms: LinkTerms): Promise<'created' | 'duplicate_reference'> {
      return links.insertLink(terms, {
        key: 'created',
        type: EventTypes.created,
        data: { amount: terms.amount, currency: terms.currency, expires_at: terms.expiresAt },
      });
    },

    /** Writes one lifecycle transition (row, payment, events) in one transaction; safe to retry. */
    async recordChange(change: LinkChange): Promise<void> {
      await links.applyChange(change);
    },
  };
}
