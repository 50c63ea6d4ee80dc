/**
 * Views of the public link page, counted without a row per view: the count, first and last view
 * reach `GET /v1/payment_links/:id` once flushed (about a second), the timeline holds exactly one
 * `link.viewed` entry however many views and API instances, analytics count the link as viewed
 * once, and a cached page stops offering payment once its link is paid or cancelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/knex';
import { createPageViews } from '../../src/links/page-views';
import { createLogger } from '../../src/logger';
import { listenTestApi, type Stack, startStack } from '../helpers/stack';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { eventually } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const createLink = async (body: Record<string, unknown> = {}) => {
  const r = await stack.request('POST', '/v1/payment_links', {
    json: { currency: 'USD', amount: 1500, ...body },
  });
  expect(r.status).toBe(201);
  return { ...r.body, path: new URL(r.body.url).pathname } as { id: string; path: string };
};
const view = async (base: string, path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, text: await res.text(), headers: res.headers };
};
const viewedEntries = async (id: string) =>
  (await stack.request('GET', `/v1/payment_links/${id}/events`)).body.data.filter(
    (e: { type: string }) => e.type === 'link.viewed',
  );
/** The link's `views` once they add up to `count`. */
const viewsReach = (id: string, count: number) =>
  eventually(
    async () => {
      const r = await stack.request('GET', `/v1/payment_links/${id}`);
      return r.body.views?.count === count ? r.body.views : undefined;
    },
    undefined,
    `${count} views of ${id}`,
  );
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('page views', () => {
  it('a new link has no views', async () => {
    const link = await createLink();
    const r = await stack.request('GET', `/v1/payment_links/${link.id}`);
    expect(r.body.views).toEqual({ count: 0, first_viewed_at: null, last_viewed_at: null });
  });

  it('N views: count N once flushed, first and last right, one timeline entry', async () => {
    const link = await createLink({ description: 'Counted' });
    const before = Date.now();
    // Some one after another, some at once (concurrent first views write one entry).
    const pages = await Promise.all([1, 2, 3].map(() => view(stack.baseUrl, link.path)));
    for (let i = 0; i < 4; i++) pages.push(await view(stack.baseUrl, link.path));
    const after = Date.now();
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.text).toContain('Counted');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    }

    const views = await viewsReach(link.id, 7);
    const first = Date.parse(views.first_viewed_at);
    const last = Date.parse(views.last_viewed_at);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(last).toBeLessThanOrEqual(after);
    expect(first).toBeLessThanOrEqual(last);

    expect(await viewedEntries(link.id)).toHaveLength(1);
    // The first-view entry fed the analytics figures of the link.
    const figures = await stack.db('link_analytics').where({ link_id: link.id }).first('first_viewed_at');
    expect(figures.first_viewed_at).not.toBeNull();
  });

  it('analytics count each viewed link once, however many views', async () => {
    const query = `from=${day(-1)}&to=${day(1)}&group_by=day`;
    const viewedBefore = (await stack.request('GET', `/v1/analytics/payment_links?${query}`)).body.data[0]
      .links_viewed as number;
    const link = await createLink();
    for (let i = 0; i < 3; i++) expect((await view(stack.baseUrl, link.path)).status).toBe(200);
    await viewsReach(link.id, 3);
    const after = await stack.request('GET', `/v1/analytics/payment_links?${query}`);
    expect(after.body.data[0].links_viewed).toBe(viewedBefore + 1);
  });

  it('two API instances: views add up, still one timeline entry; a stopping instance writes what it counted', async () => {
    const link = await createLink();
    const second = await listenTestApi({
      db: stack.db,
      temporal: stack.temporal,
      taskQueue: stack.taskQueue,
    });
    try {
      await Promise.all([view(stack.baseUrl, link.path), view(second.baseUrl, link.path)]);
      expect((await view(second.baseUrl, link.path)).status).toBe(200);
    } finally {
      // Written on close (the flush timer may not have run yet).
      await second.close();
    }
    const views = await viewsReach(link.id, 3);
    expect(views.first_viewed_at).not.toBeNull();
    expect(await viewedEntries(link.id)).toHaveLength(1);
  });

  it('views counted while the database is unreachable are kept and written once it is back', async () => {
    const link = await createLink();
    const direct = new URL(stack.databaseUrl);
    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const via = new URL(stack.databaseUrl);
    via.port = String(proxy.port);
    const db = createDb(via.toString(), { max: 1 });
    // No timer in the way: this test flushes by hand.
    const views = createPageViews(db, createLogger('silent'), { flushIntervalMs: 3_600_000 });
    try {
      // Nothing to write yet: a flush with nothing counted must not stop later ones.
      await views.flush();
      await views.record({ id: link.id, account_id: stack.account.accountId });
      await proxy.setMode('refuse');
      await views.record({ id: link.id, account_id: stack.account.accountId });
      await expect(views.flush()).rejects.toThrow();
      await proxy.setMode('pass');
      await views.flush();
      await views.record({ id: link.id, account_id: stack.account.accountId });
      await views.stop();
      expect((await views.forLink(stack.account.accountId, link.id)).count).toBe(3);
      expect(await viewedEntries(link.id)).toHaveLength(1);
    } finally {
      await db.destroy();
      await proxy.close();
    }
  });

  it('an unknown token is a 404 and counts nothing', async () => {
    const before = await stack.db('link_views').count('* as n').first();
    expect((await view(stack.baseUrl, '/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect(await stack.db('link_views').count('* as n').first()).toEqual(before);
  });
});

describe('the cached page', () => {
  it('stops offering payment once the link is paid', async () => {
    const link = await createLink({ amount: 800 });
    const open = await view(stack.baseUrl, link.path);
    expect(open.text).toContain('<form method="post"');
    // Paid through the sandbox while the page is in the cache.
    const pay = await stack.postForm(`${link.path}/pay`, {});
    expect(pay.status).toBe(303);
    const checkout = pay.headers.get('location') as string;
    const done = await stack.postForm(checkout, { outcome: 'succeed' });
    expect(done.status).toBe(303);
    await stack.untilStatus(`/v1/payment_links/${link.id}`, 'paid');
    const paid = await eventually(async () => {
      const page = await view(stack.baseUrl, link.path);
      return page.text.includes('Paid. Thank you.') ? page : undefined;
    });
    expect(paid.text).not.toContain('<form method="post"');
    // Pressing Pay on a page shown before is refused whatever the cache held.
    expect((await stack.postForm(`${link.path}/pay`, {})).status).toBe(409);
  });

  it('a link cancelled through this API shows as cancelled on its next view', async () => {
    const link = await createLink();
    expect((await view(stack.baseUrl, link.path)).text).toContain('<form method="post"');
    const cancelled = await stack.request('POST', `/v1/payment_links/${link.id}/cancel`);
    expect(cancelled.body.status).toBe('cancelled');
    const page = await view(stack.baseUrl, link.path);
    expect(page.text).toContain('This payment request was cancelled');
    expect(page.text).not.toContain('<form method="post"');
  });
});
