import { createHash, randomBytes } from 'node:crypto';

/** Ids are opaque, prefixed by kind (Stripe-style) so a misplaced id is obvious in logs. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

/**
 * An id that the same `parts` always give, shaped like newId's: for what must be made once
 * whoever asks and however often (the replacement of a reissued link).
 */
export const derivedId = (prefix: string, ...parts: string[]): string =>
  `${prefix}_${createHash('sha256').update(parts.join('\u0000')).digest().subarray(0, 12).toString('base64url')}`;

/** 192 bits: the public link token is the only thing guarding a link page. */
export const newLinkToken = (): string => randomBytes(24).toString('base64url');

export const newApiKey = (): string => `plk_${randomBytes(32).toString('base64url')}`;

/** API keys carry 256 bits of entropy, so a fast hash is enough to make the stored value useless. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * The shape of an id: its prefix, then the base64url alphabet. Looser than what newId makes
 * (12 bytes, 16 characters) so ids made otherwise (`pay_` + 32 hex) pass; tight enough that a
 * NUL, a lone surrogate or a misplaced id never reaches a query.
 */
export const idPattern = (prefix: string): RegExp => new RegExp(`^${prefix}_[A-Za-z0-9_-]{1,64}$`);

export const isIdShaped = (prefix: string, value: string): boolean => idPattern(prefix).test(value);

/** Public tokens (link pages, unsubscribe links) are base64url, 24 and 18 bytes today. */
export const isTokenShaped = (value: string): boolean => /^[A-Za-z0-9_-]{16,64}$/.test(value);

/** The prefix of each kind of id a client may send back. */
export const ID_PREFIX = {
  account: 'acct',
  paymentLink: 'plink',
  customer: 'cus',
  invoice: 'inv',
  order: 'ord',
  payment: 'pay',
  session: 'ps',
  campaign: 'cmp',
} as const;
