/**
 * Closing a link closes its sessions: called by the one write of a link's status (link-store's
 * writeLinkPatch), in the transaction of the close.
 */
import type { LinkStatus } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { enqueueOutbox } from '../outbox/outbox-store';
import { checkoutExpiryItem, type ProviderOutboxItem } from './provider-outbox';

/**
 * In the transaction that closes a link (its status write): every open session is voided, so the
 * sandbox's claim refuses it, and each checkout a provider hosts is expired there through the
 * outbox. A session being captured (`processing`) is left to finish: its payment is recorded late.
 */
export async function closeLinkSessions(
  tx: Db,
  accountId: string,
  linkId: string,
  status: LinkStatus,
): Promise<void> {
  const { rows } = await tx.raw(
    `UPDATE payment_sessions AS s
        SET status = 'voided', failure_reason = ?, updated_at = now()
      WHERE s.account_id = ? AND s.link_id = ? AND s.status = 'open'
        AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.account_id = s.account_id AND p.session_id = s.id)
      RETURNING s.id, s.provider, s.provider_session_id`,
    [`link_${status}`, accountId, linkId],
  );
  const expiries: ProviderOutboxItem[] = (
    rows as { id: string; provider: string; provider_session_id: string | null }[]
  )
    .filter((r) => r.provider_session_id !== null)
    .map((r) =>
      checkoutExpiryItem({
        provider: r.provider,
        session_id: r.id,
        provider_session_id: r.provider_session_id as string,
      }),
    );
  await enqueueOutbox(tx, accountId, linkId, expiries);
}
