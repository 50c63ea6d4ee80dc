import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import express, { Router } from 'express';
import {
  EventTypes,
  linkWorkflowId,
  type PaymentReceived,
  paymentReceivedSignal,
} from '../../../workflows/payment-link/contract';
import type { Db } from '../../db/knex';
import { insertLinkEvents, type LinkRow, type LinkStore } from '../../links/link-store';
import type { RecordLatePayment } from '../../payments/late-payments';
import { savePaymentProfile } from '../../payments/payment-profiles';
import type { ProviderRegistry } from '../../payments/provider';
import type { ProviderEvent } from '../../payments/sandbox-provider';
import type { SessionRow, SessionStore } from '../../payments/session-store';
import { ApiError } from '../errors';

export interface ProviderCallbackDeps {
  db: Db;
  temporal: Client;
  links: LinkStore;
  sessions: SessionStore;
  providers: ProviderRegistry;
  recordLatePayment: RecordLatePayment;
}

/**
 * `POST /v1/callbacks/:provider`: verify the signature over the raw body, store the event once
 * (its id is the key), then signal the link's workflow; 2xx only once that is durable, so a
 * provider's retry is always safe.
 */
export function providerCallbackRoutes(deps: ProviderCallbackDeps): Router {
  const { db, temporal, links, sessions, providers, recordLatePayment } = deps;
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
    const session = await sessions.find(event.data.session_id);
    if (!session || session.provider !== provider)
      throw ApiError.invalid(`No such payment session: '${event.data.session_id}'`, 'data.session_id');
    const link = await links.findLink(session.account_id, session.link_id);
    if (!link) throw ApiError.invalid('The session has no payment link', 'data.session_id');

    const stored = await db('provider_events')
      .insert({
        provider,
        event_id: event.id,
        account_id: session.account_id,
        type: event.type,
        payload: raw.toString('utf8'),
      })
      .onConflict(['provider', 'event_id'])
      .ignore()
      .returning('event_id');
    if (stored.length === 0) {
      const seen = await db('provider_events').where({ provider, event_id: event.id }).first('processed_at');
      if (seen?.processed_at) {
        res.json({ received: true, duplicate: true });
        return;
      }
      // Stored by an attempt that failed before the end: carry on, every step below is idempotent.
    }

    if (event.type === 'payment.succeeded') await applySuccess(provider, event, session, link);
    else {
      await sessions.settle(session.id, 'failed', event.data.failure_reason);
      await insertLinkEvents(db, link.account_id, link.id, [
        {
          key: `event:${provider}:${event.id}`,
          type: EventTypes.sessionFailed,
          data: { session_id: session.id, reason: event.data.failure_reason ?? 'declined' },
        },
      ]);
    }
    await db('provider_events').where({ provider, event_id: event.id }).update({ processed_at: db.fn.now() });
    res.json({ received: true });
  });

  async function applySuccess(
    provider: string,
    event: ProviderEvent,
    session: SessionRow,
    link: LinkRow,
  ): Promise<void> {
    const { data } = event;
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
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // The lifecycle is over: nobody else will record it.
      await recordLatePayment(link, payment);
    }
    await sessions.settle(session.id, 'succeeded');
  }

  return router;
}
