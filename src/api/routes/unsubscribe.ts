import express, { Router } from 'express';
import { isTokenShaped } from '../../ids';
import { escapeHtml } from '../../notifications/messages';
import type { NotificationStore } from '../../notifications/notification-store';

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">${body}</body></html>`;

const notFound = page('Link not found', '<h1>This link is not valid</h1>');

/**
 * The unsubscribe link of a reminder. `POST` is RFC 8058's one-click (mail clients send
 * `List-Unsubscribe=One-Click`) and the confirmation form's; `GET` only shows the form, so a
 * link scanner that follows URLs unsubscribes nobody.
 */
export function unsubscribeRoutes(notifications: NotificationStore): Router {
  const router = Router();
  // A token that cannot be one is answered like an unknown one, before any query.
  router.param('token', (_req, res, next, token: string) => {
    if (isTokenShaped(token)) next();
    else res.status(404).type('html').send(notFound);
  });
  router.get('/u/:token', async (req, res) => {
    const row = await notifications.findByUnsubscribeToken(req.params.token);
    if (!row) {
      res.status(404).type('html').send(notFound);
      return;
    }
    res
      .type('html')
      .send(
        page(
          'Stop messages',
          `<h1>Stop these messages?</h1><p>We will stop sending payment requests and reminders from this merchant by ${row.channel === 'email' ? 'email' : 'text message'} to ${escapeHtml(row.recipient)}.</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Stop messages</button></form>`,
        ),
      );
  });
  router.post('/u/:token', express.urlencoded({ extended: false, limit: '2kb' }), async (req, res) => {
    const row = await notifications.findByUnsubscribeToken(req.params.token);
    if (!row) {
      res.status(404).type('html').send(notFound);
      return;
    }
    await notifications.optOut(row, 'unsubscribe_link');
    res
      .type('html')
      .send(
        page(
          'Unsubscribed',
          '<h1>Done</h1><p>You will not receive further messages from this merchant on this channel.</p>',
        ),
      );
  });
  return router;
}
