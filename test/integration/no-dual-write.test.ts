/**
 * A link exists as a row and a running workflow, or not at all. Starting the workflow is the
 * only write the API makes; the workflow stores the row.
 */
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports';
import { listenTestApi, type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

describe('creating a link', () => {
  it('is durable once accepted, even while no worker is running', async () => {
    const stack = await startStack({ worker: false, createWaitMs: 500 });
    stacks.push(stack);
    const created = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 2500, currency: 'USD', expires_in: 'PT1H' },
    });
    // The start is durable, so the API answers with the link it will become.
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'active', amount: 2500 });
    const description = await stack.temporal.workflow.getHandle(created.body.id).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(await stack.db('payment_links').where({ id: created.body.id }).first()).toBeUndefined();

    // As soon as a worker picks the workflow up, the row appears: nothing was lost.
    await stack.startWorker();
    const row = await eventually(
      () => stack.db('payment_links').where({ id: created.body.id }).first(),
      WAIT_MS,
      'the workflow to store the link',
    );
    expect(row).toMatchObject({ status: 'active', amount: 2500, token: created.body.url.split('/l/')[1] });
  });

  it('a retry of a create whose row is not stored yet answers with the link the first attempt started', async () => {
    const stack = await startStack({ worker: false, createWaitMs: 500 });
    stacks.push(stack);
    const key = `no-worker-${Date.now()}`;
    const create = () =>
      fetch(`${stack.baseUrl}/v1/payment_links`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.account.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ amount: 1800, currency: 'USD', expires_in: 'PT1H' }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
    const first = await create();
    expect(first.status).toBe(201);
    // As if the first attempt died before storing its answer: the retry runs the create again.
    await stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });
    const retry = await create();
    expect(retry.status).toBe(201);
    // Same link, same token: read from the run the first attempt started, not made up again.
    expect(retry.body).toMatchObject({ id: first.body.id, url: first.body.url, amount: 1800 });
    await stack.startWorker();
    const row = await eventually(
      () => stack.db('payment_links').where({ id: first.body.id }).first(),
      WAIT_MS,
      'the workflow to store the link',
    );
    expect(row.token).toBe(String(first.body.url).split('/l/')[1]);
    expect(
      await stack.db('payment_links').where({ amount: 1800, account_id: stack.account.accountId }),
    ).toHaveLength(1);
  });

  it('stores nothing and answers 503 when Temporal cannot start the workflow', async () => {
    const stack = await startStack();
    stacks.push(stack);
    // A client whose server is gone: every start fails.
    const deadPort = await freePort();
    const deadClient = new Client({
      connection: await Connection.lazy({ address: `127.0.0.1:${deadPort}`, connectTimeout: 300 }),
    });
    const api = await listenTestApi({
      db: stack.db,
      temporal: deadClient,
      taskQueue: stack.taskQueue,
      createWaitMs: 2000,
    });
    try {
      const res = await fetch(`${api.baseUrl}/v1/payment_links`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.account.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 100, currency: 'USD', reference: 'never-stored' }),
      });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('service_unavailable');
      expect(await stack.db('payment_links').where({ reference: 'never-stored' }).first()).toBeUndefined();
    } finally {
      await api.close();
    }
  });
});
