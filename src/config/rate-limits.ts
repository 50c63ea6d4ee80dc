/**
 * Rate limits and the proxies trusted to name the client (TRUST_PROXY), read from the
 * environment. The README's configuration table lists them.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** Per minute, per client address unless said otherwise. */
export interface RateLimits {
  /**
   * The public link pages, checkout and unsubscribe pages. `off` (spelled out, never by a 0)
   * takes the limiter off those pages: for measuring the page itself, not for production.
   */
  publicPerMinute: number | 'off';
  /** Provider callbacks. */
  callbacksPerMinute: number;
  /** Requests refused with 401: slows down key guessing. */
  failedAuthPerMinute: number;
  /** Authenticated API requests, per account (all its keys and addresses together). */
  accountPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  publicPerMinute: 300,
  callbacksPerMinute: 1200,
  failedAuthPerMinute: 30,
  accountPerMinute: 600,
};

/** Express's `trust proxy`: a hop count, or the addresses/subnets whose X-Forwarded-For is believed. */
export type TrustProxy = number | false | string[];

/** proxy-addr's names for address ranges, accepted in TRUST_PROXY lists. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Dotted quads only: ipaddr.js would also read "1.2.3" or "0x7f.1" as addresses. */
const validAddress = (a: string) => ipaddr.IPv4.isValidFourPartDecimal(a) || ipaddr.IPv6.isValid(a);

function validTrustEntry(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix] = entry.split('/');
  if (!validAddress(address)) return false;
  if (prefix === undefined) return true;
  try {
    ipaddr.parseCIDR(entry);
    return true;
  } catch {
    return false;
  }
}

/**
 * `false` or `0` (trust no proxy: the peer is the client), a number of hops, or a comma-separated
 * list of addresses, subnets and the names loopback, linklocal, uniquelocal. `true` (trust every
 * peer) is refused: any client could then name itself in X-Forwarded-For.
 */
export function parseTrustProxy(value: string): TrustProxy | { problem: string } {
  const v = value.trim();
  if (v === 'false') return false;
  if (v === 'true')
    return {
      problem: "true would let any client choose its own address; give a hop count or the proxies' addresses",
    };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops === 0 ? false : hops;
  }
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const bad = entries.filter((s) => !validTrustEntry(s));
  if (entries.length === 0 || bad.length > 0)
    return {
      problem: `expected false, a number of hops, or a comma-separated list of addresses, subnets (10.0.0.0/8) or loopback/linklocal/uniquelocal; not understood: ${bad.join(', ') || '(empty)'}`,
    };
  return entries;
}

const perMinute = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const rateLimitEnv = {
  RATE_LIMIT_PUBLIC_PER_MINUTE: z
    .union([z.literal('off'), z.coerce.number().int().positive()])
    .default(DEFAULT_RATE_LIMITS.publicPerMinute as number),
  RATE_LIMIT_CALLBACKS_PER_MINUTE: perMinute(DEFAULT_RATE_LIMITS.callbacksPerMinute),
  RATE_LIMIT_FAILED_AUTH_PER_MINUTE: perMinute(DEFAULT_RATE_LIMITS.failedAuthPerMinute),
  RATE_LIMIT_ACCOUNT_PER_MINUTE: perMinute(DEFAULT_RATE_LIMITS.accountPerMinute),
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((value, ctx) => {
      const parsed = parseTrustProxy(value);
      if (typeof parsed === 'object' && !Array.isArray(parsed) && parsed !== null) {
        ctx.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return parsed;
    }),
};

export function rateLimitsFrom(e: {
  RATE_LIMIT_PUBLIC_PER_MINUTE: number | 'off';
  RATE_LIMIT_CALLBACKS_PER_MINUTE: number;
  RATE_LIMIT_FAILED_AUTH_PER_MINUTE: number;
  RATE_LIMIT_ACCOUNT_PER_MINUTE: number;
}): RateLimits {
  return {
    publicPerMinute: e.RATE_LIMIT_PUBLIC_PER_MINUTE,
    callbacksPerMinute: e.RATE_LIMIT_CALLBACKS_PER_MINUTE,
    failedAuthPerMinute: e.RATE_LIMIT_FAILED_AUTH_PER_MINUTE,
    accountPerMinute: e.RATE_LIMIT_ACCOUNT_PER_MINUTE,
  };
}
