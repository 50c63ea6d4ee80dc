/**
 * A provider's event about a payment session: stored once (its id is the key), then applied. A
 * success goes to the link's workflow, or, once its lifecycle is over, is recorded as late; a
 * failure settles the session and goes on the timeline. Every step is idempotent, so an attempt
 * that died half-way is finished by the provider's retry.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  EventTypes,
  linkWorkflowId,
  type PaymentReceived,
  paymentReceivedSignal,
} from '../../workflows/payment-link/contract';
import { ApiError } from '../api/errors';
import type { Db } from '../db/knex';
import { insertLinkEvents, type LinkRow, type LinkStore } from '../links/link-store';
import { createSignalDeferral } from './deferred-signals';
import type { RecordLatePayment } from './late-payments';
import { savePaymentProfile } from './payment-profiles';
import type { ProviderEvent } from './sandbox-provider';
import type { SessionRow, SessionStore } from './session-store';

export interface ProviderEventDeps {
  db: Db;
  temporal: Client;
  links: LinkStore;
  sessions: SessionStore;
  recordLatePayment: RecordLatePayment;
  /** Where a collision with another account is reported (pino's shape: fields, then message). */
  logger: { warn(fields: Record<string, unknown>, message: string): void };
}

/** Longer than one attempt takes (a signal to Temporal and a few statements, each with a timeout). */
const APPLY_LEASE_SECONDS = 15;

export function createProviderEvents(deps: ProviderEventDeps) {
  const { db, temporal, links, sessions, recordLatePayment, logger } = deps;
  const deferSignal = createSignalDeferral({ db, temporal });

  async function applySuccess(
    provider: string,
    event: ProviderEvent,
    session: SessionRow,
    link: LinkRow,
  ): Promise<'applied' | 'deferred'> {
    const { data } = event;
    // Captured: settled first, so that from now until its payment row is written the session holds
    // its part of the link (session-store.ts) and no second checkout opens for it, whatever fails
    // below (the stored event is applied again by the provider's retry or the reconciler).
    await sessions.settle(session.id, 'succeeded');
    // Money through a replaced checkout, on a link that takes one payment: a person reviews it.
    const staleSession = await sessions.isStale(session);
    // On a multi-use link whoever pays is not the link's customer: their card is not saved to it.
    const paymentProfileId =
      data.payment_profile && link.max_payments === 1
        ? await savePaymentProfile(db, provider, data.payment_profile, link)
        : undefined;
    const payment: PaymentReceived = {
      provider,
      paymentId: data.payment_id,
      amount: data.amount,
      currency: data.currency,
      sessionId: session.id,
      ...(paymentProfileId ? { paymentProfileId } : {}),
      ...(staleSession ? { staleSession } : {}),
    };
    try {
      await temporal.workflow.getHandle(linkWorkflowId(link.id)).signal(paymentReceivedSignal, payment);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) {
        // Temporal cannot take it now (the run's signal limit, unreachable…): kept stored and
        // tried again later (deferred-signals.ts), never a 5xx the provider retries for ever.
        await deferSignal({ provider, eventId: event.id, linkId: link.id }, err);
        return 'deferred';
      }
      // The lifecycle is over: nobody else will record it.
      await recordLatePayment(link, payment);
    }
    return 'applied';
  }

  /**
   * A provider payment id another account has recorded too. Payments are unique per account, so
   * neither record blocks the other: which account truly took the payment cannot be told from
   * two events each signed by its own merchant, and refusing the later one would refuse the
   * victim whenever the forger is first. It is recorded for this account and said out loud.
   */
  async function warnOfOtherClaims(provider: string, event: ProviderEvent, accountId: string) {
    const other = await db('payments')
      .where({ provider, provider_payment_id: event.data.payment_id })
      .whereNot({ account_id: accountId })
      .first('account_id', 'id');
    if (!other) return;
    logger.warn(
      {
        provider,
        provider_payment_id: event.data.payment_id,
        event_id: event.id,
        account_id: accountId,
        other_account_id: other.account_id,
        other_payment_id: other.id,
      },
      'a provider payment id is claimed by two accounts',
    );
  }

  return {
    /** `duplicate`: this event was applied before; `deferred`: stored, to be applied later. */
    /** `accountId`: the account the callback came for (a provider with per-account endpoints). */
    async receive(
      provider: string,
      event: ProviderEvent,
      raw: Buffer,
      accountId?: string,
    ): Promise<{ duplicate: boolean; deferred?: boolean }> {
      const session = await sessions.find(event.data.session_id);
      if (!session || session.provider !== provider || (accountId && session.account_id !== accountId))
        throw ApiError.invalid(`No such payment session: '${event.data.session_id}'`, 'data.session_id');
      // An event id is unique per account: another merchant's event that carries the same id
      // (it signs its own) is its own row and never makes this one a redelivery.
      const key = { provider, account_id: session.account_id, event_id: event.id };
      // A provider's retries of an applied event, the common case in a storm.
      const seen = await db('provider_events').where(key).first('processed_at');
      if (seen?.processed_at) return { duplicate: true };
      const link = await links.findLink(session.account_id, session.link_id);
      if (!link) throw ApiError.invalid('The session has no payment link', 'data.session_id');
      if (event.type === 'payment.succeeded') await warnOfOtherClaims(provider, event, session.account_id);

      const lease = db.raw(`now() + interval '${APPLY_LEASE_SECONDS} seconds'`);
      const stored = await db('provider_events')
        .insert({
          ...key,
          account_id: session.account_id,
          type: event.type,
          payload: raw.toString('utf8'),
          applying_until: lease,
        })
        .onConflict(['provider', 'account_id', 'event_id'])
        .ignore()
        .returning('event_id');
      if (stored.length === 0) {
        // Stored by an earlier attempt: carry on only if none is applying it now (every step
        // below is idempotent, the lease only saves doing them twice at once).
        const claimed = await db('provider_events')
          .where(key)
          .whereNull('processed_at')
          .where((q) => q.whereNull('applying_until').orWhere('applying_until', '<', db.fn.now()))
          .update({ applying_until: lease })
          .returning('event_id');
        if (claimed.length === 0) return { duplicate: true };
      }

      try {
        if (event.type === 'payment.succeeded') {
          if ((await applySuccess(provider, event, session, link)) === 'deferred')
            return { duplicate: false, deferred: true };
        } else {
          await sessions.settle(session.id, 'failed', event.data.failure_reason);
          await insertLinkEvents(db, link.account_id, link.id, [
            {
              key: `event:${provider}:${event.id}`,
              type: EventTypes.sessionFailed,
              data: { session_id: session.id, reason: event.data.failure_reason ?? 'declined' },
            },
          ]);
        }
      } catch (err) {
        // Given back so that the provider's retry need not wait for the lease to run out; if
        // even this fails, the lease runs out by itself.
        await db('provider_events')
          .where(key)
          .update({ applying_until: null })
          .catch(() => {});
        throw err;
      }
      await db('provider_events').where(key).update({ processed_at: db.fn.now(), applying_until: null });
      return { duplicate: false };
    },
  };
}

export type ProviderEvents = ReturnType<typeof createProviderEvents>;
