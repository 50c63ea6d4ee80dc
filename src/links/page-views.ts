/**
 * Views of the public link page, counted without writing a row per view.
 *
 * - Counts, first and last view are kept in this process per link and added to `link_views`
 *   about once a second (and when the API stops) by ONE set-based upsert, however many views and
 *   links there were. Several API instances each add their own counts.
 * - The timeline gets exactly one `link.viewed` entry per link, for its first view: the analytics
 *   triggers read it (`link_analytics.first_viewed_at`, `links_viewed`). It is written before the
 *   page is answered, once per link per process: links known to have it are remembered in a
 *   bounded LRU, so later views cost no database round trip. Its fixed event key, with the
 *   timeline's unique (link_id, event_key), makes concurrent first views on several instances
 *   write one entry; links viewed before the key existed (one entry per view) get none more.
 *
 * If the process is killed (SIGKILL, a crash) the counts of at most the last flush interval are
 * lost, together with any counts a failing flush kept for the next one: a view counter may lose a
 * second of views. The first-view timeline entry is never lost: it is written synchronously, and
 * a failure to write it fails the request (the customer sees the "try again" page), so the page
 * is never shown without it. SIGINT/SIGTERM stop the timer and flush what is left.
 */
import { LRUCache } from 'lru-cache';
import { EventTypes } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import type { Logger } from '../logger';

/** How often counted views are written: the most a killed process can lose. */
export const VIEW_FLUSH_INTERVAL_MS = 1000;

/** Links remembered as having their first-view entry; past this the least recently viewed costs one insert again. */
const MARKED_LINKS = 100_000;

/** The key of the single `link.viewed` timeline entry of a link. */
export const FIRST_VIEW_EVENT_KEY = 'view:first';

interface Pending {
  accountId: string;
  count: number;
  first: Date;
  last: Date;
}

export interface LinkViews {
  count: number;
  first_viewed_at: string | null;
  last_viewed_at: string | null;
}

export interface PageViewsOptions {
  flushIntervalMs?: number;
  now?: () => Date;
}

export function createPageViews(db: Db, logger: Logger, options: PageViewsOptions = {}) {
  const now = options.now ?? (() => new Date());
  let pending = new Map<string, Pending>();
  const marked = new LRUCache<string, true>({ max: MARKED_LINKS });
  /** First-view inserts under way: concurrent first views of a link wait for one insert. */
  const marking = new Map<string, Promise<void>>();
  let flushing: Promise<void> | undefined;

  function add(linkId: string, p: Pending) {
    const seen = pending.get(linkId);
    if (!seen) {
      pending.set(linkId, p);
      return;
    }
    seen.count += p.count;
    if (p.first < seen.first) seen.first = p.first;
    if (p.last > seen.last) seen.last = p.last;
  }

  async function markFirstView(linkId: string, accountId: string): Promise<void> {
    // Not a row per view: inserted only when the link has no `link.viewed` entry yet (links viewed
    // before this key existed have several, keyed by a random id).
    await db.raw(
      `INSERT INTO link_events (account_id, link_id, type, data, event_key)
       SELECT ?, ?, ?, '{}'::jsonb, ?
        WHERE NOT EXISTS (SELECT 1 FROM link_events WHERE link_id = ? AND type = ?)
       ON CONFLICT (link_id, event_key) DO NOTHING`,
      [accountId, linkId, EventTypes.viewed, FIRST_VIEW_EVENT_KEY, linkId, EventTypes.viewed],
    );
    marked.set(linkId, true);
  }

  async function writeOut(batch: Map<string, Pending>): Promise<void> {
    // Sorted: instances flushing the same links at once lock their rows in the same order.
    const ids = [...batch.keys()].sort();
    const rows = ids.map((id) => batch.get(id) as Pending);
    await db.raw(
      `INSERT INTO link_views AS v (link_id, account_id, views, first_viewed_at, last_viewed_at)
       SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::timestamptz[], ?::timestamptz[])
       ON CONFLICT (link_id) DO UPDATE SET
         views = v.views + EXCLUDED.views,
         first_viewed_at = LEAST(v.first_viewed_at, EXCLUDED.first_viewed_at),
         last_viewed_at = GREATEST(v.last_viewed_at, EXCLUDED.last_viewed_at)`,
      [
        ids,
        rows.map((r) => r.accountId),
        rows.map((r) => r.count),
        rows.map((r) => r.first.toISOString()),
        rows.map((r) => r.last.toISOString()),
      ],
    );
  }

  /** Writes the views counted so far; on failure they stay counted for the next flush. */
  function flush(): Promise<void> {
    if (flushing) return flushing;
    if (pending.size === 0) return Promise.resolve();
    const batch = pending;
    pending = new Map();
    flushing = writeOut(batch)
      .catch((err: unknown) => {
        for (const [id, p] of batch) add(id, p);
        throw err;
      })
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  const timer = setInterval(() => {
    flush().catch((err: unknown) => {
      logger.warn({ err, links: pending.size }, 'could not write page views; kept for the next flush');
    });
  }, options.flushIntervalMs ?? VIEW_FLUSH_INTERVAL_MS);
  // Counting never keeps a process alive: stop() flushes on the way out.
  timer.unref();

  return {
    /**
     * Counts one view of a link's page. Resolves once the link's first-view timeline entry is
     * stored (at once, from memory, for a link already known to have it).
     */
    record(link: { id: string; account_id: string }): Promise<void> | undefined {
      const at = now();
      add(link.id, { accountId: link.account_id, count: 1, first: at, last: at });
      if (marked.has(link.id)) return undefined;
      let inFlight = marking.get(link.id);
      if (!inFlight) {
        inFlight = markFirstView(link.id, link.account_id).finally(() => marking.delete(link.id));
        marking.set(link.id, inFlight);
      }
      return inFlight;
    },

    flush,

    /** Stops the timer and writes what is left: after the server stopped, before the pool closes. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await flushing?.catch(() => undefined);
      await flush();
    },

    /** The link's figures as stored (views still in some instance's memory come within a second). */
    async forLink(accountId: string, linkId: string): Promise<LinkViews> {
      const row = await db('link_views')
        .where({ account_id: accountId, link_id: linkId })
        .first('views', 'first_viewed_at', 'last_viewed_at');
      return {
        count: row ? Number(row.views) : 0,
        first_viewed_at: row ? (row.first_viewed_at as Date).toISOString() : null,
        last_viewed_at: row ? (row.last_viewed_at as Date).toISOString() : null,
      };
    },
  };
}

export type PageViews = ReturnType<typeof createPageViews>;
