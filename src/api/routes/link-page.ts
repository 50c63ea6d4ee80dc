import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import { EventTypes, isTerminal } from '../../../workflows/payment-link/contract';
import { findAccount } from '../../accounts/accounts';
import type { Db } from '../../db/knex';
import { insertLinkEvents, type LinkStore } from '../../links/link-store';
import { escapeHtml as e } from '../../notifications/messages';
import { amountToPay } from '../../payments/pay-amount';
import type { PaymentProvider } from '../../payments/provider';
import type { SessionStore } from '../../payments/session-store';
import { page, pageLocale, renderLinkPage } from '../../public/link-page';

const payPath = (link: { token: string }) => `/l/${encodeURIComponent(link.token)}/pay`;
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
      .send(renderLinkPage(link, account?.name ?? '', payPath(link)));
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
    const field = (req.body as { amount?: string | string[] } | undefined)?.amount;
    // A repeated field is not an amount: refused like any other text that is not one.
    const typed = Array.isArray(field) ? field.join(' & ') : field;
    const choice = amountToPay(link, typed, pageLocale(link));
    if (!choice.ok) {
      const account = await findAccount(db, link.account_id);
      res
        .status(400)
        .type('html')
        .set('Cache-Control', 'no-store')
        .send(
          renderLinkPage(link, account?.name ?? '', payPath(link), { amount: typed, error: choice.message }),
        );
      return;
    }
    const opened = await sessions.openFor(link, provider.name, choice.amount);
    if (opened.kind === 'processing')
      return refuse(409, 'A payment of this link is being confirmed. Check back in a moment.');
    if (opened.kind === 'opened') {
      const { session, voided } = opened;
      await insertLinkEvents(db, link.account_id, link.id, [
        {
          key: `session:${session.id}`,
          type: EventTypes.sessionStarted,
          data: {
            session_id: session.id,
            amount: session.amount,
            ...(voided ? { voided_session_id: voided } : {}),
          },
        },
      ]);
    }
    // Pressing Pay again, in any tab, goes back to the same checkout: one capture per session.
    res.redirect(303, provider.checkoutUrl(opened.session));
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
