/**
 * `npm run api` fails closed: started as a real process with nothing but its database and
 * Temporal settings, it has no sandbox provider, so no callback (signed with the secret the source
 * used to default to, or not signed at all) can mark a link paid. The same process with
 * SANDBOX_ENABLED=true and a strong secret accepts a correctly signed one; a weak secret stops it
 * at start-up with a message naming the setting.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { startDevPeers } from '../../src/dev/peers';
import { createChannels } from '../../src/notifications/channels';
import { signPayload } from '../../src/signing';
import { type ApiProcess, refusedApiStart, startApiProcess } from '../helpers/api-process';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { TEST_NOTIFICATION_CONFIG } from '../helpers/stack';
import {
  eventually,
  type RunningWorker,
  startTestWorker,
  TEST_CODEC_KEYS_SPEC,
  uniqueTaskQueue,
} from '../helpers/temporal';

/** What src/config.ts used to sign with when no SANDBOX_SECRET was set. */
const FORMER_DEFAULT_SECRET = 'sandbox-development-secret-not-for-production';
const STRONG_SECRET = randomBytes(32).toString('hex');

const taskQueue = uniqueTaskQueue('fail-closed');
let database: TestDatabase;
let worker: RunningWorker | undefined;
let stopPeers: (() => Promise<void>) | undefined;
let bare: ApiProcess | undefined;
let sandboxed: ApiProcess | undefined;
let apiKey: string;

/** Nothing but where the database and Temporal are. */
const onlyDatabaseAndTemporal = () => ({
  DATABASE_URL: database.url,
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  TEMPORAL_TASK_QUEUE: taskQueue,
  // The test's worker decrypts with the tests' key.
  PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS_SPEC,
  LOG_LEVEL: 'warn',
});

beforeAll(async () => {
  database = await createTestDatabase();
  const peers = await startDevPeers();
  const channels = createChannels(TEST_NOTIFICATION_CONFIG, 'https://pay.example.test', peers);
  stopPeers = async () => {
    channels.close();
    await peers.stop();
  };
  worker = await startTestWorker(database.db, taskQueue, {
    ...channels,
    publicBaseUrl: 'https://pay.example.test',
  });
  apiKey = (await createAccount(database.db, 'Fail-closed shop', TEST_ACCOUNT_ZONE)).apiKey;
  [bare, sandboxed] = await Promise.all([
    startApiProcess(onlyDatabaseAndTemporal()),
    startApiProcess({ ...onlyDatabaseAndTemporal(), SANDBOX_ENABLED: 'true', SANDBOX_SECRET: STRONG_SECRET }),
  ]);
});

afterAll(async () => {
  await Promise.all([bare?.stop(), sandboxed?.stop()]);
  await worker?.stop();
  await stopPeers?.();
  await database?.drop();
});

const callback = (api: ApiProcess, body: string, signature?: string) =>
  fetch(`${api.baseUrl}/v1/callbacks/sandbox`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature ? { 'paylinks-signature': signature } : {}),
    },
    body,
  });

const linkStatus = async (api: ApiProcess, id: string) => {
  const res = await fetch(`${api.baseUrl}/v1/payment_links/${id}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  return ((await res.json()) as { status: string }).status;
};

/** A link and an open sandbox session (opened through the process that has the sandbox). */
async function openSession() {
  const created = await fetch(`${sandboxed?.baseUrl}/v1/payment_links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 700, currency: 'USD' }),
  });
  expect(created.status).toBe(201);
  const link = (await created.json()) as { id: string; url: string };
  const pay = await fetch(`${sandboxed?.baseUrl}${new URL(link.url).pathname}/pay`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });
  expect(pay.status).toBe(303);
  const checkout = pay.headers.get('location') as string;
  expect(checkout).toMatch(/^\/sandbox\/checkout\/ps_/);
  const sessionId = checkout.split('/').at(-1) as string;
  const body = JSON.stringify({
    id: `evt_${sessionId}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `pi_${sessionId}`, amount: 700, currency: 'USD' },
  });
  return { link, checkout, body };
}

describe('npm run api with only database and Temporal settings', () => {
  it('refuses sandbox callbacks signed with the former default secret, or unsigned, and serves no sandbox checkout', async () => {
    const api = bare as ApiProcess;
    const { link, checkout, body } = await openSession();

    for (const signature of [
      signPayload(FORMER_DEFAULT_SECRET, body),
      undefined,
      signPayload(STRONG_SECRET, body),
    ]) {
      const res = await callback(api, body, signature);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({
        error: { code: 'resource_missing', message: "No such payment provider: 'sandbox'" },
      });
    }
    expect((await fetch(`${api.baseUrl}${checkout}`)).status).toBe(404);
    expect(await database.db('provider_events').where({ event_id: JSON.parse(body).id })).toHaveLength(0);
    expect(await database.db('payments').where({ link_id: link.id })).toHaveLength(0);
    expect(await linkStatus(api, link.id)).toBe('active');
  });

  it('with SANDBOX_ENABLED=true and a strong secret, accepts only a callback signed with it', async () => {
    const api = sandboxed as ApiProcess;
    const { link, checkout, body } = await openSession();
    expect((await fetch(`${api.baseUrl}${checkout}`)).status).toBe(200);

    const forged = await callback(api, body, signPayload(FORMER_DEFAULT_SECRET, body));
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ error: { code: 'signature_mismatch' } });
    expect((await callback(api, body)).status).toBe(400);
    expect(await linkStatus(api, link.id)).toBe('active');

    const signed = await callback(api, body, signPayload(STRONG_SECRET, body));
    expect(signed.status).toBe(200);
    expect(await signed.json()).toEqual({ received: true });
    await eventually(async () => ((await linkStatus(api, link.id)) === 'paid' ? true : undefined));
  });

  it('refuses to start with a weak or missing sandbox secret, naming the setting', async () => {
    const weak = [FORMER_DEFAULT_SECRET, randomBytes(16).toString('hex'), 'ab'.repeat(32)];
    const refusals = await Promise.all(
      weak.map((secret) =>
        refusedApiStart({ ...onlyDatabaseAndTemporal(), SANDBOX_ENABLED: 'true', SANDBOX_SECRET: secret }),
      ),
    );
    for (const refused of refusals) {
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(
        'Paylinks cannot start: invalid configuration: SANDBOX_SECRET: must be at least 32 random bytes, hex-encoded',
      );
      expect(refused.output).not.toMatch(/\n\s+at /); // a reason, not a stack trace
    }
    const missing = await refusedApiStart({ ...onlyDatabaseAndTemporal(), SANDBOX_ENABLED: 'true' });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('SANDBOX_SECRET is required when SANDBOX_ENABLED=true');
  });
});
