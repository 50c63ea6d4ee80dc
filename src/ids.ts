import { createHash, randomBytes } from 'node:crypto';

/** Ids are opaque, prefixed by kind (Stripe-style) so a misplaced id is obvious in logs. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** 192 bits: the public link token is the only thing guarding a link page. */
export const newLinkToken = (): string => randomBytes(24).toString('base64url');

export const newApiKey = (): string => `plk_${randomBytes(32).toString('base64url')}`;

/** API keys carry 256 bits of entropy, so a fast hash is enough to make the stored value useless. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
