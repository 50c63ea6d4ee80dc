/**
 * Key rotation: a link started while k1 was the only key keeps running after k2 is added and
 * made current (a new worker replays its k1 history), and its history, now part k1 and part k2,
 * decodes with both keys configured.
 */
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, METADATA_KEY_ID, parseCodecKeys } from '../../src/temporal/payload-codec';
import { paymentReceivedSignal } from '../../workflows/payment-link/contract';
import { linkTools } from '../helpers/links';
import { payloadsIn } from '../helpers/payloads';
import { type Stack, startStack } from '../helpers/stack';
import { testClient } from '../helpers/temporal';

const material = (fill: string) => Buffer.alloc(32, fill).toString('base64');
const K1 = parseCodecKeys(`rot-k1:${material('rotation-k1')}`);
const K2_K1 = parseCodecKeys(`rot-k2:${material('rotation-k2')},rot-k1:${material('rotation-k1')}`);
const K2_ONLY = parseCodecKeys(`rot-k2:${material('rotation-k2')}`);

let stack: Stack;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startStack({ codecKeys: K1 });
});
afterAll(async () => {
  for (const c of clients) await c.connection.close();
  await stack?.stop();
});

describe('payload codec key rotation', () => {
  it('keeps a link started under k1 running, and decodable, after k2 becomes current', async () => {
    const t = linkTools(stack);
    const { id } = await t.create({
      amount: 1500,
      customer: { name: 'Ada', email: 'ada@example.com', timezone: 'UTC' },
      channels: ['email'],
      quiet_hours: null,
    });
    await t.untilEvent(id, 'payment_link.sent');

    // Rotation: every process restarts with k2 first and k1 kept.
    await stack.stopWorker();
    await stack.startWorker({ codecKeys: K2_K1 });
    const rotated = await testClient(K2_K1);
    const plain = await testClient(null);
    clients.push(rotated, plain);
    const handle = rotated.workflow.getHandle(id);
    await handle.signal(paymentReceivedSignal, {
      provider: 'sandbox',
      paymentId: 'pi_rotation',
      amount: 1500,
      currency: 'USD',
    });
    await t.untilStatus(id, 'paid');
    await expect(handle.result()).resolves.toMatchObject({ status: 'paid' });

    const payloads = payloadsIn(await plain.workflow.getHandle(id).fetchHistory());
    const keyIds = new Set(payloads.map((p) => Buffer.from(p.metadata?.[METADATA_KEY_ID] ?? []).toString()));
    expect([...keyIds].sort()).toEqual(['rot-k1', 'rot-k2']);
    const decoded = await new AesGcmPayloadCodec(K2_K1).decode(payloads);
    expect(decoded.map((p) => Buffer.from(p.data ?? []).toString()).join('\n')).toContain('ada@example.com');
    // Retiring k1 too early is a clear error, not garbage.
    await expect(new AesGcmPayloadCodec(K2_ONLY).decode(payloads)).rejects.toThrow(
      /encrypted with key id "rot-k1", which is not in PAYLOAD_CODEC_KEYS \(configured: rot-k2\)/,
    );
  });
});
