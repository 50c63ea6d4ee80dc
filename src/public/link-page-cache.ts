/**
 * The rendered page of each recently viewed link, so that a view costs no query and no rendering.
 *
 * An entry lives PAGE_TTL_MS, then the next view reads the link (and its merchant's name and
 * payment provider) again and renders it anew; concurrent views of a link wait for one read. So a
 * link that was just paid, expired or cancelled (by its workflow, in the worker) shows as payable
 * for at most PAGE_TTL_MS more on any API instance. That is acceptable because the page is only a
 * view: pressing Pay re-reads the link (POST /l/:token/pay refuses a closed link with 409, and
 * opens at most one live session), and a payment takes longer than that to be recorded anyway
 * (provider callback → workflow → row). A change made through this API instance is applied at
 * once (`forget`).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { LinkRow } from '../links/link-store';

/** How long a rendered page is served without reading its link again: the staleness bound. */
export const PAGE_TTL_MS = 1000;

/** Pages kept (a few kB each): the links viewed right now, not every link. */
const MAX_PAGES = 2000;

export interface CachedPage {
  link: Pick<LinkRow, 'id' | 'account_id' | 'token' | 'status'>;
  /** The page's bytes, encoded once. */
  body: Buffer;
  etag: string;
}

/** What a page is made of, read from the database; undefined: no such link. */
export type LoadPage = (token: string) => Promise<{ link: CachedPage['link']; html: string } | undefined>;

export function createLinkPageCache(load: LoadPage, options: { ttlMs?: number; max?: number } = {}) {
  const pages = new LRUCache<string, CachedPage>({
    max: options.max ?? MAX_PAGES,
    ttl: options.ttlMs ?? PAGE_TTL_MS,
    // An unknown token is not kept: the link may be stored a moment after its URL was handed out.
    fetchMethod: async (token) => {
      const loaded = await load(token);
      if (!loaded) return undefined;
      const body = Buffer.from(loaded.html, 'utf8');
      const etag = `W/"${createHash('sha1').update(body).digest('base64url')}"`;
      return { link: loaded.link, body, etag };
    },
  });
  return {
    /** The link's page, from memory while fresh; undefined: no such link. */
    get: (token: string): Promise<CachedPage | undefined> => pages.fetch(token),
    /** Drops a link's page after a change this process made, so the next view reads it again. */
    forget: (token: string): void => {
      pages.delete(token);
    },
  };
}

export type LinkPageCache = ReturnType<typeof createLinkPageCache>;
