/**
 * Waits until the system has settled after an interleaving, on conditions read from Postgres:
 * no checkout of the run is being captured, every callback the provider sent has been applied
 * (one that nobody is applying any more is sent again, as a provider retries an unanswered
 * callback), and every capture has its payment row. Whatever is still missing when the wait runs
 * out is what the report names.
 */
import type { Target } from '../target';
import { redeliver, storedCallbacks } from './callbacks';
import type { RunRecord } from './execute';

const PACE_MS = 100;

export async function settle(
  target: Target,
  record: RunRecord,
  timeoutMs: number,
): Promise<string | undefined> {
  const linkIds = record.links.map((l) => l.id);
  const deadline = Date.now() + timeoutMs;
  let waitingFor = 'nothing yet';
  for (;;) {
    waitingFor = (await pending(target, linkIds)) ?? '';
    if (!waitingFor) return undefined;
    if (Date.now() > deadline) return `not settled after ${timeoutMs} ms: ${waitingFor}`;
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
}

/** What the run still waits for, or undefined when it has settled. */
async function pending(target: Target, linkIds: string[]): Promise<string | undefined> {
  if (linkIds.length === 0) return undefined;
  const { db, accountId } = target;
  const sessions: { id: string; status: string }[] = await db('payment_sessions')
    .where({ account_id: accountId })
    .whereIn('link_id', linkIds)
    .select('id', 'status');
  const processing = sessions.filter((s) => s.status === 'processing');
  if (processing.length > 0) return `session ${processing[0]?.id} is still being captured`;
  if (sessions.length === 0) return undefined;

  const events = await storedCallbacks(
    db,
    accountId,
    sessions.map((s) => s.id),
  );
  const unapplied = events.filter((e) => !e.processed);
  if (unapplied.length > 0) {
    for (const e of unapplied.filter((u) => u.leaseFree)) await redeliver(target, e);
    return `callback ${unapplied[0]?.eventId} is not applied`;
  }

  const captured = [
    ...new Set(
      events.filter((e) => e.event.type === 'payment.succeeded').map((e) => String(e.event.data.payment_id)),
    ),
  ];
  if (captured.length === 0) return undefined;
  const recorded: { provider_payment_id: string }[] = await db('payments')
    .where({ account_id: accountId, provider: 'sandbox' })
    .whereIn('provider_payment_id', captured)
    .select('provider_payment_id');
  const have = new Set(recorded.map((r) => r.provider_payment_id));
  const missing = captured.filter((id) => !have.has(id));
  return missing.length > 0 ? `capture ${missing[0]} has no payment row` : undefined;
}
