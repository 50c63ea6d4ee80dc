import { Router } from 'express';
import { LRUCache } from 'lru-cache';
import { isTokenShaped } from '../../ids';
import type { LinkStore } from '../../links/link-store';
import { linkUrl } from '../../links/serialize';
import { qrPng, qrSvg } from '../../notifications/qr';
import { ApiError } from '../errors';

/** QR codes kept (PNG and SVG, a few kB each): those of the links being viewed right now. */
const MAX_CODES = 1000;

/**
 * `GET /l/:token/qr.png|svg`: the link's URL as a QR code, for print, screens and email. Every
 * view of a link's page asks for its SVG. A code depends only on the token, which never changes
 * and whose link is never deleted, so a drawn code is kept without expiry: no query, no drawing.
 */
export function linkQrRoutes(links: LinkStore, publicBaseUrl: string): Router {
  const router = Router();
  router.param('token', (_req, _res, next, token: string) => {
    next(isTokenShaped(token) ? undefined : ApiError.notFound('payment link', token));
  });
  const draw = <T extends Buffer | string>(render: (url: string) => Promise<T>) =>
    new LRUCache<string, T>({
      max: MAX_CODES,
      // An unknown token is not kept: its link may be stored a moment later.
      fetchMethod: async (token) => {
        const row = await links.findLinkByToken(token);
        return row ? render(linkUrl(publicBaseUrl, row.token)) : undefined;
      },
    });
  const pngs = draw(qrPng);
  const svgs = draw(qrSvg);
  const code = async <T extends Buffer | string>(codes: LRUCache<string, T>, token: string) => {
    const found = await codes.fetch(token);
    if (found === undefined) throw ApiError.notFound('payment link', token);
    return found;
  };
  router.get('/l/:token/qr.png', async (req, res) => {
    const png = await code(pngs, req.params.token);
    res.type('png').set('Cache-Control', 'public, max-age=86400').send(png);
  });
  router.get('/l/:token/qr.svg', async (req, res) => {
    const svg = await code(svgs, req.params.token);
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(svg);
  });
  return router;
}
