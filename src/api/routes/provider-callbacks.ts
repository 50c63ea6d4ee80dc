import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import express, { Router } from 'express';
import { EventTypes, linkWorkflowId, paymentReceivedSignal } from '../../../workflows/payment-link/contract';
import type { Db } from '../../db/knex';
import { newId } from '../../ids';
import { insertLinkEvents, type LinkRow, type LinkStore } from '../../links/link-store';
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
}

/**
 * `POST /v1/callbacks/:provider`: verify the signature over the raw body, store the event once
 * (its id is the key), then signal the link's workflow; 2xx only once that is durable, so a
 * provider's retry is always safe.
 */
export function providerCallbackRoutes(deps: ProviderCallbackDeps): Router {
  const { db, temporal, links, sessions, providers } = deps;
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
        ? await saveProfile(provider, data.payment_profile, link)
        : undefined;
    try {
      await temporal.workflow.getHandle(linkWorkflowId(link.id)).signal(paymentReceivedSignal, {
        provider,
        paymentId: data.payment_id,
        amount: data.amount,
        currency: data.currency,
        sessionId: session.id,
        ...(paymentProfileId ? { paymentProfileId } : {}),
        ...(staleSession ? { staleSession } : {}),
      });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // The lifecycle is over: record it here as a late payment, flagged for refund review.
      await links.applyChange({
        linkId: link.id,
        accountId: link.account_id,
        payment: {
          id: newId('pay'),
          provider,
          providerPaymentId: data.payment_id,
          amount: data.amount,
          currency: data.currency.toUpperCase(),
          status: 'succeeded',
          flags: ['late'],
          refundReview: true,
          sessionId: session.id,
          paymentProfileId: paymentProfileId ?? null,
        },
        events: [
          {
            key: `payment:${provider}:${data.payment_id}`,
            type: EventTypes.paymentFlagged,
            data: {
              payment_id: data.payment_id,
              amount: data.amount,
              currency: data.currency,
              flags: ['late'],
              refund_review: true,
            },
          },
        ],
      });
    }
    await sessions.settle(session.id, 'succeeded');
  }

  /** A saved method belongs to the link's customer, created from the link's contact if need be. */
  async function saveProfile(
    provider: string,
    profile: NonNullable<ProviderEvent['data']['payment_profile']>,
    link: LinkRow,
  ): Promise<string> {
    let customerId = link.customer_id;
    if (!customerId) {
      const email = link.customer?.email ?? null;
      const existing = email
        ? await db('customers').where({ account_id: link.account_id, email }).first('id')
        : undefined;
      customerId =
        existing?.id ??
        (
          await db('customers')
            .insert({
              id: newId('cus'),
              account_id: link.account_id,
              name: link.customer?.name ?? null,
              email,
              phone: link.customer?.phone ?? null,
              locale: link.customer?.locale ?? null,
              timezone: link.customer?.timezone ?? null,
            })
            .returning('id')
        )[0].id;
    }
    const [row] = await db('payment_profiles')
      .insert({
        id: newId('pp'),
        account_id: link.account_id,
        customer_id: customerId,
        provider,
        provider_token: profile.token,
        brand: profile.brand ?? null,
        last4: profile.last4 ?? null,
      })
      .onConflict(['account_id', 'provider', 'provider_token'])
      .merge({ customer_id: customerId })
      .returning('id');
    return row.id;
  }

  return router;
}
