/**
 * Request rate limits (limits from configuration: src/config/rate-limits.ts). Customers' pages
 * answer 429 with a page in the customer's language; the API answers the JSON error shape. Both
 * carry Retry-After. Counters live in this process unless a shared store is given (several API
 * instances behind a load balancer need one, or each grants the full limit).
 */
import type { Request, RequestHandler } from 'express';
import { type Options, rateLimit, type Store } from 'express-rate-limit';
import type { RateLimits } from '../config/rate-limits';
import type { LinkStore } from '../links/link-store';
import { escapeHtml as e } from '../notifications/messages';
import { page } from '../public/link-page';
import { ApiError } from './errors';

/** A fresh store per limiter (each keeps its own counters), named so a shared store can tell them apart. */
export type RateLimitStoreFactory = (name: string) => Store;

export interface RateLimitDeps {
  limits: RateLimits;
  store?: RateLimitStoreFactory;
  /** The locale of the customer a public page is for (a link's customer), when it can be told. */
  customerLocale?: (req: Request) => Promise<string | undefined>;
}

const WINDOW_MS = 60_000;

/** Locales looked up for refused requests, so a client hammering one page costs one query, not one each. */
const LOCALE_CACHE_SIZE = 1000;

/** On a link's page (`/l/:token…`), its customer's locale, as the page itself would use. */
export function linkCustomerLocale(links: Pick<LinkStore, 'findLinkByToken'>) {
  const cache = new Map<string, string | undefined>();
  return async (req: Request): Promise<string | undefined> => {
    const token = /^\/l\/([^/?#]+)/.exec(req.originalUrl)?.[1];
    if (!token) return undefined;
    if (cache.has(token)) return cache.get(token);
    const locale = (await links.findLinkByToken(decodeURIComponent(token)))?.customer?.locale;
    // Map keeps insertion order: the oldest entry goes first.
    if (cache.size >= LOCALE_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(token, locale);
    return locale;
  };
}

const limited = new ApiError(429, 'rate_limit_error', 'rate_limited', 'Too many requests; retry later');

interface TooManyStrings {
  title: string;
  body: (seconds: number) => string;
}

/** The languages customers' messages are written in (src/notifications/messages.ts). */
const TOO_MANY: Record<string, TooManyStrings> = {
  en: {
    title: 'Too many requests',
    body: (s) =>
      `This page was asked for too often from your network. Please wait ${s} seconds, then reload it.`,
  },
  fr: {
    title: 'Trop de requêtes',
    body: (s) =>
      `Cette page a été demandée trop souvent depuis votre réseau. Veuillez patienter ${s} secondes, puis la recharger.`,
  },
};
const LANGUAGES = Object.keys(TOO_MANY);

/** `fr-CA` → `fr` when there are strings for it. */
const languageOf = (locale: string | undefined): string | undefined => {
  const lang = locale?.split('-')[0]?.toLowerCase();
  return lang && lang in TOO_MANY ? lang : undefined;
};

export function tooManyRequestsPage(lang: string, retryAfterSeconds: number): string {
  const strings = TOO_MANY[lang] ?? (TOO_MANY.en as TooManyStrings);
  return page(
    strings.title,
    `<section><h1>${e(strings.title)}</h1><p class="muted">${e(strings.body(retryAfterSeconds))}</p></section>`,
    lang,
  );
}

function limiter(
  name: string,
  perMinute: number,
  deps: RateLimitDeps,
  extra: Partial<Options> & Pick<Options, 'handler'>,
): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    // RateLimit-* headers and, once refused, Retry-After.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: name,
    // Clients send X-Forwarded-For whatever we trust; TRUST_PROXY decides whether it is believed,
    // so the library's one-time warning about it would only be noise an attacker can trigger.
    validate: { xForwardedForHeader: false },
    ...(deps.store ? { store: deps.store(name) } : {}),
    ...extra,
  });
}

const jsonHandler: Options['handler'] = (_req, res) => {
  res.status(429).json(limited.toJSON());
};

export function limiters(deps: RateLimitDeps) {
  const { limits } = deps;
  const htmlHandler: Options['handler'] = async (req, res) => {
    let lang: string | undefined;
    try {
      lang = languageOf(await deps.customerLocale?.(req));
    } catch {
      // The page is about being refused; a failed lookup only costs the customer's language.
    }
    lang ??= req.acceptsLanguages(LANGUAGES) || 'en';
    const retryAfter = Number(res.getHeader('retry-after')) || WINDOW_MS / 1000;
    res.status(429).type('html').send(tooManyRequestsPage(lang, retryAfter));
  };
  return {
    /** Customers' pages, per client address; undefined when configured off. */
    publicPages:
      limits.publicPerMinute === 'off'
        ? undefined
        : limiter('public', limits.publicPerMinute, deps, { handler: htmlHandler }),
    /** Provider callbacks, per client address. */
    callbacks: limiter('callbacks', limits.callbacksPerMinute, deps, { handler: jsonHandler }),
    /** Refused authentication, per client address; authenticated requests neither count nor wait. */
    failedAuth: limiter('failed-auth', limits.failedAuthPerMinute, deps, {
      handler: jsonHandler,
      skip: (req) => req.account !== undefined,
    }),
    /**
     * Authenticated API requests, per account: one merchant's integration cannot starve the others,
     * however many keys or addresses it uses. Mounted after authentication.
     */
    account: limiter('account', limits.accountPerMinute, deps, {
      handler: jsonHandler,
      keyGenerator: (req) => `account:${req.account?.id ?? 'none'}`,
    }),
  };
}
