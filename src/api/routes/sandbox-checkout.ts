import { randomBytes } from 'node:crypto';
import express, { Router } from 'express';
import { isTerminal } from '../../../workflows/payment-link/contract';
import { ID_PREFIX, isIdShaped } from '../../ids';
import type { LinkStore } from '../../links/link-store';
import { formatAmount } from '../../money/format';
import { escapeHtml as e } from '../../notifications/messages';
import type { ProviderEvent } from '../../payments/sandbox-provider';
import type { SessionStore } from '../../payments/session-store';
import { page } from '../../public/link-page';
import { SIGNATURE_HEADER, signPayload } from '../../signing';

/**
 * The sandbox provider's hosted checkout. On submit it sends its callback to
 * `POST /v1/callbacks/sandbox` over HTTP, signed, exactly as a remote provider would, then
 * sends the customer on to the link's success_url (or a thank-you page).
 */
export function sandboxCheckoutRoutes(deps: {
  sessions: SessionStore;
  links: LinkStore;
  secret: string;
}): Router {
  const { sessions, links, secret } = deps;
  const router = Router();
  const closed = page('Checkout closed', '<section><h1>This checkout is no longer open</h1></section>');
  const missing = page('Not found', '<section><h1>This checkout does not exist</h1></section>');
  // An id that cannot be a session's is answered like an unknown one, before any query.
  router.param('id', (_req, res, next, id: string) => {
    if (isIdShaped(ID_PREFIX.session, id)) next();
    else res.status(404).type('html').send(missing);
  });

  router.get('/sandbox/checkout/:id', async (req, res) => {
    const session = await sessions.find(req.params.id);
    if (!session) {
      res.status(404).type('html').send(missing);
      return;
    }
    const link = await links.findLink(session.account_id, session.link_id);
    if (session.status !== 'open' || session.expires_at <= new Date() || !link || isTerminal(link.status)) {
      res.status(410).type('html').send(closed);
      return;
    }
    res.type('html').send(
      page(
        'Sandbox checkout',
        `<section><h1>Sandbox checkout</h1><p class="amount">${e(formatAmount(session.amount, session.currency, 'en'))}</p><form method="post">
<label><input type="radio" name="outcome" value="succeed" checked> Pay successfully</label>
<label><input type="radio" name="outcome" value="decline"> Decline the card</label>
<label><input type="checkbox" name="save_payment_profile" value="true"> Save this payment method</label>
<button type="submit">Submit</button></form></section>`,
      ),
    );
  });

  router.post(
    '/sandbox/checkout/:id',
    express.urlencoded({ extended: false, limit: '2kb' }),
    async (req, res) => {
      // Claimed before the callback: a second submit of this page (or another tab) finds it taken,
      // and a session of a closed link (or one replaced) is refused before anything is captured.
      const session = await sessions.claim(req.params.id);
      if (!session) {
        const known = await sessions.find(req.params.id);
        res
          .status(known ? 410 : 404)
          .type('html')
          .send(known ? closed : missing);
        return;
      }
      const form = (req.body ?? {}) as { outcome?: string; save_payment_profile?: string };
      const declined = form.outcome === 'decline';
      const event: ProviderEvent = {
        id: `evt_${randomBytes(12).toString('hex')}`,
        type: declined ? 'payment.failed' : 'payment.succeeded',
        data: {
          session_id: session.id,
          payment_id: `sbx_${randomBytes(12).toString('hex')}`,
          amount: session.amount,
          currency: session.currency,
          ...(declined ? { failure_reason: 'card_declined' } : {}),
          ...(!declined && form.save_payment_profile === 'true'
            ? {
                payment_profile: {
                  token: `sbxpm_${randomBytes(12).toString('hex')}`,
                  brand: 'visa',
                  last4: '4242',
                },
              }
            : {}),
        },
      };
      const body = JSON.stringify(event);
      // To this very server over loopback: never to a host the client could name (Host header).
      const confirmed = await fetch(`http://127.0.0.1:${req.socket.localPort}/v1/callbacks/sandbox`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(secret, body) },
        body,
      }).then(
        (response) => response.ok,
        () => false,
      );
      // Captured and stored, its recording left to the provider's retry or the reconciler: the
      // customer is told it is being confirmed, never invited to pay it again.
      const captured = !confirmed && (await sessions.find(session.id))?.status === 'succeeded';
      if (!confirmed && !captured) {
        // Not stuck in processing: the customer may submit again (the callback never settled it).
        await sessions.release(session.id);
        res
          .status(502)
          .type('html')
          .send(
            page('Try again', '<section><h1>The payment could not be confirmed. Try again.</h1></section>'),
          );
        return;
      }
      const link = await links.findLink(session.account_id, session.link_id);
      if (declined) {
        res.redirect(303, `/l/${encodeURIComponent(link?.token ?? '')}`);
        return;
      }
      res.redirect(303, link?.success_url ?? `/l/${encodeURIComponent(link?.token ?? '')}/thanks`);
    },
  );

  return router;
}
