import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import { EventTypes, isTerminal } from '../../../workflows/payment-link/contract';
import { findAccount } from '../../accounts/accounts';
import type { Db } from '../../db/knex';
import { insertLinkEvents, type LinkStore } from '../../links/link-store';
import { escapeHtml as e } from '../../notifications/messages';
import type { PaymentProvider } from '../../payments/provider';
import type { SessionStore } from '../../payments/session-store';
import { page, renderLinkPage } from '../../public/link-page';

const notFound = page('Not found', '<section><h1>This payment link does not exist</h1></section>');

/** The customer's side: the link page, and "Pay" that opens a session at the provider. */
export function linkPageRoutes(deps: {
  db: Db;
  links: LinkStore;
  sessions: SessionStore;
  /** The provider new sessions open at; none configured means paying is unavailable. */
  provider: PaymentProvider | undefined;
}): Router {
  const { db, links, sessions, provider } = deps;
  const router = Router();

  router.get('/l/:token', async (req, res) => {
    const link = await links.findLinkByToken(req.params.token);
    if (!link) {
      res.status(404).type('html').send(notFound);
      return;
    }
    const account = await findAccount(db, link.account_id);
    // One insert, no workflow round trip: views are frequent and change nothing.
    await insertLinkEvents(db, link.account_id, link.id, [
      { key: `view:${randomUUID()}`, type: EventTypes.viewed },
    ]);
    res
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(renderLinkPage(link, account?.name ?? '', `/l/${encodeURIComponent(link.token)}/pay`));
  });

  router.post('/l/:token/pay', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const link = await links.findLinkByToken(req.params.token);
    if (!link) {
      res.status(404).type('html').send(notFound);
      return;
    }
    const refuse = (status: number, message: string) =>
      res
        .status(status)
        .type('html')
        .send(page('Cannot pay', `<section><h1>${e(message)}</h1></section>`));
    if (isTerminal(link.status)) return refuse(409, `This payment link is ${link.status}.`);
    if (!provider) return refuse(503, 'Payments are not available right now.');
    const remaining = link.amount - link.amount_paid;
    const due = link.max_payments === 1 ? remaining : link.amount;
    let amount = due;
    const asked = (req.body as { amount?: string } | undefined)?.amount;
    if (link.accept_partial && asked !== undefined && asked !== '') {
      amount = Number(asked);
      const minimum = Math.min(link.min_partial_amount ?? 1, remaining);
      if (!Number.isInteger(amount) || amount < minimum || amount > remaining) {
        return refuse(400, `The amount must be a whole number between ${minimum} and ${remaining}.`);
      }
    }
    const session = await sessions.open({
      accountId: link.account_id,
      linkId: link.id,
      provider: provider.name,
      amount,
      currency: link.currency,
    });
    await insertLinkEvents(db, link.account_id, link.id, [
      {
        key: `session:${session.id}`,
        type: EventTypes.sessionStarted,
        data: { session_id: session.id, amount },
      },
    ]);
    res.redirect(303, provider.checkoutUrl(session));
  });

  router.get('/l/:token/thanks', async (req, res) => {
    const link = await links.findLinkByToken(req.params.token);
    if (!link) {
      res.status(404).type('html').send(notFound);
      return;
    }
    res
      .type('html')
      .send(
        page('Thank you', '<section><h1>Thank you</h1><p>Your payment is being confirmed.</p></section>'),
      );
  });

  return router;
}
