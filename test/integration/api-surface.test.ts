/** Idempotent creation, body limits, rate limits, security headers, and the OpenAPI document. */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('Idempotency-Key', () => {
  it('replays the same response for the same key and body, and refuses another body with 409', async () => {
    const key = `idem-${Date.now()}`;
    const body = { amount: 1234, currency: 'USD', description: 'once' };
    const first = await stack.request('POST', '/v1/payment_links', {
      json: body,
      headers: { 'Idempotency-Key': key },
    });
    expect(first.status).toBe(201);
    const again = await stack.request('POST', '/v1/payment_links', {
      json: body,
      headers: { 'Idempotency-Key': key },
    });
    expect(again).toEqual(first);
    const other = await stack.request('POST', '/v1/payment_links', {
      json: { ...body, amount: 999 },
      headers: { 'Idempotency-Key': key },
    });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'idempotency_key_reused', param: 'Idempotency-Key' });
    const listed = await stack.request('GET', '/v1/payment_links?limit=100');
    expect(listed.body.data.filter((l: { description: string }) => l.description === 'once')).toHaveLength(1);
  });

  it('after a crash half-way, a retry makes the same link, not a second one', async () => {
    // As if an earlier request recorded the key and the link id, then died before answering.
    const key = `idem-crash-${Date.now()}`;
    const body = { amount: 555, currency: 'USD', description: 'crash' };
    const first = await stack.request('POST', '/v1/payment_links', {
      json: body,
      headers: { 'Idempotency-Key': key },
    });
    await stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });
    const retry = await stack.request('POST', '/v1/payment_links', {
      json: body,
      headers: { 'Idempotency-Key': key },
    });
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.body.url).toBe(first.body.url);
    expect(await stack.db('payment_links').where({ description: 'crash' })).toHaveLength(1);
  });
});

describe('limits and headers', () => {
  it('answers 413 for an oversized body, storing nothing', async () => {
    const r = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'USD', description: 'x'.repeat(100_000) },
    });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('body_too_large');
  });

  it('sets security headers', async () => {
    const res = await fetch(`${stack.baseUrl}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("form-action 'self' https:");
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('rate-limits failed authentication with 429, leaving good keys alone', async () => {
    let last = 0;
    for (let i = 0; i < 31; i++)
      last = (await stack.request('GET', '/v1/payment_links', { key: `plk_guess_${i}` })).status;
    expect(last).toBe(429);
    const limited = await stack.request('GET', '/v1/payment_links', { key: 'plk_guess_again' });
    expect(limited.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    // Successful requests were never counted.
    expect((await stack.request('GET', '/v1/payment_links?limit=1')).status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('serves a valid OpenAPI 3.1 document generated from the request schemas, browsable at /docs', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const path of [
      '/v1/payment_links',
      '/v1/payment_links/{id}/cancel',
      '/v1/invoices/{id}/payment_link',
      '/v1/webhook_deliveries',
      '/v1/payment_provider',
      '/v1/payments/{id}/refund',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const create = doc.paths['/v1/payment_links']?.post?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(create?.properties ?? {})).toEqual(
      expect.arrayContaining(['amount', 'currency', 'reminders', 'quiet_hours']),
    );
    const page = await (await fetch(`${stack.baseUrl}/docs`)).text();
    expect(page).toContain('swagger-ui');
    expect((await fetch(`${stack.baseUrl}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    expect(await (await fetch(`${stack.baseUrl}/docs/init.js`)).text()).toContain('/openapi.json');
  });
});
