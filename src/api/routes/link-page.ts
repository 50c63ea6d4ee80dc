import express, { Router } from 'express';
import { isTerminal } from '../../../workflows/payment-link/contract';
import { findAccount } from '../../accounts/accounts';
import type { Db } from '../../db/knex';
import { isTokenShaped } from '../../ids';
import type { LinkStore } from '../../links/link-store';
import type { PageViews } from '../../links/page-views';
import type { Logger } from '../../logger';
import { formatAmount } from '../../money/format';
import { escapeHtml as e } from '../../notifications/messages';
import { amountToPay } from '../../payments/pay-amount';
import type { Checkout, PaymentProvider } from '../../payments/provider';
import type { ProviderDirectory } from '../../payments/provider-directory';
import type { SessionStore } from '../../payments/session-store';
import { page, pageLocale, renderLinkPage } from '../../public/link-page';
import { createLinkPageCache, type LinkPageCache } from '../../public/link-page-cache';

const payPath = (link: { token: string }) => `/l/${encodeURIComponent(link.token)}/pay`;
const notFound = page('Not found', '<section><h1>This payment link does not exist</h1></section>');

/**
 * A card is saved for the link's own customer, so not on a multi-use link; the sandbox's checkout
 * asks itself.
 */
const offersSave = (provider: PaymentProvider | undefined, link: { max_payments: number | null }) =>
  provider?.name === 'stripe' && link.max_payments === 1;

/** The customer's side: the link page, and "Pay" that opens a session at the provider. */
export function linkPageRoutes(deps: {
  db: Db;
  links: LinkStore;
  sessions: SessionStore;
  /** The provider each account's sessions open at; none means paying is unavailable. */
  providers: ProviderDirectory;
  logger: Logger;
  /** Counts views (and writes each link's first-view timeline entry). */
  views: PageViews;
}): { router: Router; pages: LinkPageCache } {
  const { db, links, sessions, providers, logger, views } = deps;
  const router = Router();
  const pages = createLinkPageCache(async (token) => {
    const link = await links.findLinkByToken(token);
    if (!link) return undefined;
    const [account, provider] = await Promise.all([
      findAccount(db, link.account_id),
      providers.forAccount(link.account_id),
    ]);
    return {
      link: { id: link.id, account_id: link.account_id, token: link.token, status: link.status },
      html: renderLinkPage(link, account?.name ?? '', payPath(link), {
        offerSave: offersSave(provider, link),
      }),
    };
  });
  // A token that cannot be one is answered like an unknown one, before any query.
  router.param('token', (_req, res, next, token: string) => {
    if (isTokenShaped(token)) next();
    else res.status(404).type('html').send(notFound);
  });

  router.get('/l/:token', async (req, res) => {
    const cached = await pages.get(req.params.token);
    if (!cached) {
      res.status(404).type('html').send(notFound);
      return;
    }
    // Usually nothing to wait for: only a link's first view in this process writes its timeline
    // entry. A HEAD request (a link checker, a preview) is not a view.
    if (req.method === 'GET') await views.record(cached.link);
    // Headers set directly, and the ETag computed when the page was rendered, not per request.
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('ETag', cached.etag);
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.send(cached.body);
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
    const provider = await providers.forAccount(link.account_id);
    if (!provider) return refuse(503, 'Payments are not available right now.');
    const body = req.body as { amount?: string | string[]; save_payment_method?: string } | undefined;
    const field = body?.amount;
    // A repeated field is not an amount: refused like any other text that is not one.
    const typed = Array.isArray(field) ? field.join(' & ') : field;
    /** The page again, with what was typed and why it cannot be paid. */
    const showForm = async (status: number, error: string) => {
      const account = await findAccount(db, link.account_id);
      res
        .status(status)
        .type('html')
        .set('Cache-Control', 'no-store')
        .send(
          renderLinkPage(link, account?.name ?? '', payPath(link), {
            amount: typed,
            error,
            offerSave: offersSave(provider, link),
          }),
        );
    };
    const choice = amountToPay(link, typed, pageLocale(link));
    if (!choice.ok) return showForm(400, choice.message);
    // Decided again under the link's lock, with what is captured and held counted in: the row read
    // above may already be behind.
    const opened = await sessions.openFor(link, provider.name, (payable) =>
      amountToPay(payable, typed, pageLocale(link)),
    );
    if (opened.kind === 'closed') return refuse(409, `This payment link is ${opened.status}.`);
    if (opened.kind === 'confirming')
      return refuse(409, 'A payment of this link is being confirmed. Check back in a moment.');
    if (opened.kind === 'no_uses_left')
      return refuse(
        409,
        'This link has no uses left right now: each one is taken by a checkout or being paid. Try again later.',
      );
    if (opened.kind === 'over_balance') {
      const confirming =
        opened.confirming > 0
          ? `${formatAmount(opened.confirming, link.currency, pageLocale(link))} of this link is being confirmed. `
          : '';
      return showForm(409, `${confirming}${opened.message}`);
    }
    // Pressing Pay again, in any tab, goes back to the same checkout: one capture per session.
    let url = opened.session.checkout_url;
    if (!url) {
      let checkout: Checkout;
      try {
        checkout = await provider.openCheckout(opened.session, link, {
          savePaymentMethod: offersSave(provider, link) && body?.save_payment_method === 'true',
        });
      } catch (err) {
        logger.warn({ err, session: opened.session.id }, 'the payment provider did not open a checkout');
        // Nobody can pay it: what it holds of the link is free again.
        await sessions.abandon(opened.session.id);
        return refuse(502, 'The payment provider is not answering. Try again in a moment.');
      }
      await sessions.setCheckout(opened.session.id, checkout);
      url = checkout.url;
    }
    res.redirect(303, url);
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

  return { router, pages };
}
