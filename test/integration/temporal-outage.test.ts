/**
 * Temporal cut off from the API (a TCP proxy refusing, then black-holing its gRPC connection),
 * with the client as production connects it (`connectClient` and its RPC deadlines): calls
 * that need Temporal answer 503 with Retry-After in seconds, never a 500 or a hang; reads from
 * Postgres keep working; /readyz says which dependency is down; the client reconnects after.
 */
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { connectClient } from '../../src/temporal/connection';
import { payloadDataConverter } from '../../src/temporal/payload-codec';
import { listenTestApi, type Stack, startStack } from '../helpers/stack';
import { type ProxyMode, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { eventually, TEST_CODEC_KEYS } from '../helpers/temporal';

/** As production runs it, except the wait for a worker, kept short so that the test is. */
const RPC_MS = loadConfig({}).temporal.rpcTimeoutMs;
const WORKER_WAIT_MS = 3000;

let stack: Stack;
let proxy: TcpProxy;
let client: Client;
let api: Awaited<ReturnType<typeof listenTestApi>>;
let linkId: string;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  stack = await startStack();
  const [host, port] = inject('temporalAddress').split(':') as [string, string];
  proxy = await startTcpProxy({ host, port: Number(port) });
  client = await connectClient(`127.0.0.1:${proxy.port}`, 'default', payloadDataConverter(TEST_CODEC_KEYS), {
    rpcMs: RPC_MS,
    workerMs: WORKER_WAIT_MS,
  });
  api = await listenTestApi({
    db: stack.db,
    temporal: client,
    taskQueue: stack.taskQueue,
    createWaitMs: WORKER_WAIT_MS,
    temporalRpcTimeoutMs: RPC_MS,
  });
  const created = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 900, currency: 'EUR', description: 'Before the cut' },
  });
  expect(created.status).toBe(201);
  linkId = created.body.id;
});
afterAll(async () => {
  if (Object.keys(figures).length > 0) console.log(`temporal outage figures: ${JSON.stringify(figures)}`);
  await api?.close();
  await client?.connection.close();
  await proxy?.close();
  await stack?.stop();
});

const call = async (method: string, path: string, json?: unknown) => {
  const started = performance.now();
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.account.apiKey}`,
      ...(json ? { 'content-type': 'application/json' } : {}),
    },
    body: json ? JSON.stringify(json) : undefined,
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as any,
    ms: Math.round(performance.now() - started),
  };
};

async function duringCut(mode: ProxyMode) {
  await proxy.setMode(mode);
  const [create, cancel, read, ready] = await Promise.all([
    call('POST', '/v1/payment_links', { amount: 100, currency: 'EUR', description: 'During the cut' }),
    call('POST', `/v1/payment_links/${linkId}/cancel`, {}),
    call('GET', `/v1/payment_links/${linkId}`),
    call('GET', '/readyz'),
  ]);
  figures[`${mode}_ms`] = { create: create.ms, cancel: cancel.ms, read: read.ms, readyz: ready.ms };

  for (const refused of [create, cancel]) {
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toMatch(/^\d+$/);
    expect(refused.body.error).toMatchObject({
      type: 'service_unavailable_error',
      code: 'service_unavailable',
    });
  }
  // Reads come from Postgres: Temporal down does not take them with it.
  expect(read.status).toBe(200);
  expect(read.body).toMatchObject({ id: linkId, status: 'active' });
  expect(ready).toMatchObject({
    status: 503,
    body: { status: 'unavailable', checks: { postgres: 'ok', temporal: 'unreachable' } },
  });

  await proxy.setMode('pass');
  let attempts = 0;
  const started = performance.now();
  await eventually(async () => {
    attempts += 1;
    return (await call('GET', '/readyz')).status === 200 ? true : undefined;
  }, 30_000);
  figures[`${mode}_recovery`] = { attempts, ms: Math.round(performance.now() - started) };
}

describe('Temporal unreachable', () => {
  it('refused: creating and cancelling answer 503 with Retry-After, reads still work', async () => {
    await duringCut('refuse');
  });

  it('black-holed: the same, bounded by the RPC deadlines instead of hanging', async () => {
    await duringCut('blackhole');
  });

  it('afterwards the link is untouched, and creating and cancelling work again', async () => {
    const created = await call('POST', '/v1/payment_links', {
      amount: 100,
      currency: 'EUR',
      description: 'After the cut',
    });
    expect(created.status).toBe(201);
    const cancelled = await call('POST', `/v1/payment_links/${linkId}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    // Nothing refused during the cuts was stored.
    const descriptions = await stack.db('payment_links').orderBy('created_at').pluck('description');
    expect(descriptions).toEqual(['Before the cut', 'After the cut']);
  });
});
