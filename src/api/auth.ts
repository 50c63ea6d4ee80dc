import type { RequestHandler } from 'express';
import { type AuthenticatedAccount, findAccountByApiKey } from '../accounts/accounts';
import type { Db } from '../db/knex';
import { ApiError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    account?: AuthenticatedAccount;
  }
}

const unauthorized = (message: string) => new ApiError(401, 'authentication_error', 'unauthorized', message);

/** `Authorization: Bearer <api key>` → `req.account`, or 401. */
export function requireApiKey(db: Db): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    if (!header) return next(unauthorized('Missing API key: send it as "Authorization: Bearer <key>"'));
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) return next(unauthorized('Malformed Authorization header: expected "Bearer <key>"'));
    const account = await findAccountByApiKey(db, match[1]);
    if (!account) return next(unauthorized('Invalid API key'));
    req.account = account;
    next();
  };
}

export function accountOf(req: { account?: AuthenticatedAccount }): AuthenticatedAccount {
  if (!req.account) throw new Error('route mounted without requireApiKey');
  return req.account;
}
