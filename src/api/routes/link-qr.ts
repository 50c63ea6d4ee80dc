import { Router } from 'express';
import { isTokenShaped } from '../../ids';
import type { LinkStore } from '../../links/link-store';
import { linkUrl } from '../../links/serialize';
import { qrPng, qrSvg } from '../../notifications/qr';
import { ApiError } from '../errors';

/** `GET /l/:token/qr.png|svg`: the link's URL as a QR code, for print, screens and email. */
export function linkQrRoutes(links: LinkStore, publicBaseUrl: string): Router {
  const router = Router();
  router.param('token', (_req, _res, next, token: string) => {
    next(isTokenShaped(token) ? undefined : ApiError.notFound('payment link', token));
  });
  const urlFor = async (token: string) => {
    const row = await links.findLinkByToken(token);
    if (!row) throw ApiError.notFound('payment link', token);
    return linkUrl(publicBaseUrl, row.token);
  };
  router.get('/l/:token/qr.png', async (req, res) => {
    const png = await qrPng(await urlFor(req.params.token));
    res.type('png').set('Cache-Control', 'public, max-age=86400').send(png);
  });
  router.get('/l/:token/qr.svg', async (req, res) => {
    const svg = await qrSvg(await urlFor(req.params.token));
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(svg);
  });
  return router;
}
