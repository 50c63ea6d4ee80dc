/**
 * Rate limits as configured: customers' pages answer 429 with a page in the customer's language,
 * the API with its JSON error, both with Retry-After; clients are told apart by the address a
 * trusted proxy names (TRUST_PROXY), never by one an untrusted peer claims; the authenticated API
 * is limited per account, whatever address the requests come from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { loadConfig } from '../../src/config';
import { DEFAULT_RATE_LIMITS, type RateLimits } from '../../src/config/rate-limits';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { listenTestApi, type Stack, startStack } from '../helpers/stack';

let stack: Stack;
const apis: { close(): Promise<void> }[] = [];
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await Promise.all(apis.map((a) => a.close()));
  await stack?.stop();
});

/** Another API on the stack's database and Temporal, with its own limits and proxy trust. */
async function apiWith(limits: Partial<RateLimits>, env: Record<string, string> = {}) {
  const api = await listenTestApi({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...limits },
    // The setting exactly as an operator writes it.
    trustProxy: loadConfig(env).trustProxy,
  });
  apis.push(api);
  return api.baseUrl;
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
const from = (address: string, headers: Record<string, string> = {}) => ({
  'x-forwarded-for': address,
  ...headers,
});

describe('customer pages', () => {
  it("answer 429 with an HTML page in the link customer's language, with Retry-After", async () => {
    const { body: link } = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 1200, currency: 'EUR', customer: { email: 'chloe@example.fr', locale: 'fr-FR' } },
    });
    const path = new URL(link.url).pathname;
    const base = await apiWith({ publicPerMinute: 2 });
    expect((await get(`${base}${path}`)).status).toBe(200);
    expect((await get(`${base}${path}`)).status).toBe(200);
    // The browser asks for English; the page is the French customer's.
    const refused = await get(`${base}${path}`, { 'accept-language': 'en-US' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const html = await refused.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('Trop de requêtes');
    expect(html).toContain(`Veuillez patienter ${refused.headers.get('retry-after')} secondes`);
  });

  it("elsewhere (checkout, unknown links) in the browser's language, English by default", async () => {
    const base = await apiWith({ publicPerMinute: 1 }, { TRUST_PROXY: 'loopback' });
    await get(`${base}/sandbox/checkout/ps_nope`, from('198.51.100.7'));
    const fr = await get(
      `${base}/sandbox/checkout/ps_nope`,
      from('198.51.100.7', { 'accept-language': 'fr-CA,fr;q=0.9' }),
    );
    expect(fr.status).toBe(429);
    expect(await fr.text()).toContain('Trop de requêtes');
    await get(`${base}/l/no-such-token`, from('198.51.100.8'));
    const en = await get(`${base}/l/no-such-token`, from('198.51.100.8', { 'accept-language': 'ja' }));
    expect(en.status).toBe(429);
    const text = await en.text();
    expect(text).toContain('<html lang="en">');
    expect(text).toContain('Too many requests');
  });
});

describe('TRUST_PROXY', () => {
  it('behind a trusted proxy, two customers (different X-Forwarded-For) have their own buckets', async () => {
    const base = await apiWith({ publicPerMinute: 1 }, { TRUST_PROXY: '127.0.0.1' });
    expect((await get(`${base}/l/no-such-token`, from('203.0.113.1'))).status).toBe(404);
    expect((await get(`${base}/l/no-such-token`, from('203.0.113.2'))).status).toBe(404);
    expect((await get(`${base}/l/no-such-token`, from('203.0.113.1'))).status).toBe(429);
    expect((await get(`${base}/l/no-such-token`, from('203.0.113.3'))).status).toBe(404);
  });

  it('an untrusted peer cannot choose its bucket with X-Forwarded-For', async () => {
    for (const setting of ['false', '10.0.0.0/8']) {
      const base = await apiWith({ publicPerMinute: 1 }, { TRUST_PROXY: setting });
      expect((await get(`${base}/l/no-such-token`, from('203.0.113.1'))).status).toBe(404);
      expect((await get(`${base}/l/no-such-token`, from('203.0.113.2'))).status, setting).toBe(429);
      expect((await get(`${base}/l/no-such-token`)).status, setting).toBe(429);
    }
  });
});

describe('the authenticated API', () => {
  it('is limited per account, not per address: JSON 429 with Retry-After', async () => {
    const base = await apiWith({ accountPerMinute: 3 }, { TRUST_PROXY: 'loopback' });
    const busy = await createAccount(stack.db, 'Busy shop', TEST_ACCOUNT_ZONE);
    const calm = await createAccount(stack.db, 'Calm shop', TEST_ACCOUNT_ZONE);
    const list = (key: string, address: string) =>
      get(`${base}/v1/payment_links`, from(address, { authorization: `Bearer ${key}` }));
    // Three addresses, one account: one bucket.
    for (const address of ['203.0.113.10', '203.0.113.11', '203.0.113.12'])
      expect((await list(busy.apiKey, address)).status).toBe(200);
    const refused = await list(busy.apiKey, '203.0.113.13');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toEqual({
      error: { type: 'rate_limit_error', code: 'rate_limited', message: 'Too many requests; retry later' },
    });
    // Another account from the very same address is not held up.
    expect((await list(calm.apiKey, '203.0.113.13')).status).toBe(200);
  });
});
