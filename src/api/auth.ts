import type { RequestHandler } from 'express';
import { type AuthenticatedAccount, findAccountByApiKey } from '../accounts/accounts';
import type { Db } from '../db/knex';
import { ApiError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    account?: AuthenticatedAccount;
    authFailure?: ApiError;
  }
}

const unauthorized = (message: string) => new ApiError(401, 'authentication_error', 'unauthorized', message);

/**
 * `Authorization: Bearer <api key>` → `req.account`, or the reason it failed in
 * `req.authFailure`. Refusing is left to `requireAccount`, so that a rate limiter in between
 * can count, and block, failed attempts only.
 */
export function authenticate(db: Db): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!header) req.authFailure = unauthorized('Missing API key: send it as "Authorization: Bearer <key>"');
    else if (!match?.[1])
      req.authFailure = unauthorized('Malformed Authorization header: expected "Bearer <key>"');
    else {
      const account = await findAccountByApiKey(db, match[1]);
      if (account) req.account = account;
      else req.authFailure = unauthorized('Invalid API key');
    }
    next();
  };
}

export const requireAccount: RequestHandler = (req, _res, next) => {
  next(req.account ? undefined : (req.authFailure ?? unauthorized('Invalid API key')));
};

export function accountOf(req: { account?: AuthenticatedAccount }): AuthenticatedAccount {
  if (!req.account) throw new Error('route mounted without authentication');
  return req.account;
}
