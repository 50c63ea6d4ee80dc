/**
 * Customer data never sits in clear in Temporal: the history and the execution's description,
 * read straight from the server without the codec, hold no email, phone, name or link token;
 * the operator's codec endpoint gives them back, and nobody else.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  revealEncodedFailures,
} from '../../src/temporal/payload-codec';
import { paymentReceivedSignal } from '../../workflows/payment-link/contract';
import { linkTools } from '../helpers/links';
import { payloadsIn } from '../helpers/payloads';
import { CODEC_TOKEN, type Stack, startStack, UI_ORIGIN } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS, testClient, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let plain: Client;
beforeAll(async () => {
  stack = await startStack();
  plain = await testClient(null);
});
afterAll(async () => {
  await plain?.connection.close();
  await stack?.stop();
});

const customer = { name: 'Grace Hopper', email: 'grace.hopper@example.com', phone: '+14155550199' };

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const text = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

async function codec(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}
const operator = { authorization: `Bearer ${CODEC_TOKEN}` };

describe('payload encryption', () => {
  let linkId: string;
  let token: string;
  let payloads: Payload[];

  beforeAll(async () => {
    // The mail server refuses the address: the activity's failure message quotes it.
    stack.peers.smtp.rejectRecipient(customer.email);
    const created = await stack.request('POST', '/v1/payment_links', {
      json: {
        amount: 2500,
        currency: 'USD',
        description: 'Order 1',
        customer,
        channels: ['email', 'sms'],
        quiet_hours: null,
      },
    });
    expect(created.status).toBe(201);
    linkId = created.body.id;
    token = new URL(created.body.url).pathname.split('/').pop() as string;
    const t = linkTools(stack);
    await t.untilEvent(linkId, 'payment_link.sent');
    await eventually(
      async () => {
        const rows = await stack.db('notifications').where({ link_id: linkId, channel: 'email' });
        return rows.some((r) => r.status === 'failed') ? true : undefined;
      },
      WAIT_MS,
      'the email to be refused',
    );
    // An update (the reason travels in it) and the workflow's result.
    const cancelled = await stack.request('POST', `/v1/payment_links/${linkId}/cancel`, {
      json: { reason: `customer ${customer.email} asked` },
    });
    expect(cancelled.status).toBe(200);
    await t.untilFinished(stack.temporal.workflow.getHandle(linkId));
    payloads = payloadsIn(await plain.workflow.getHandle(linkId).fetchHistory());
  });

  it('leaves no email, phone, name or link token in clear in the history or the description', async () => {
    const handle = plain.workflow.getHandle(linkId);
    const history = await handle.fetchHistory();
    // The raw description: the SDK's describe() would need the codec for the memo.
    const describe = await plain.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId: linkId },
    });
    const raw = [
      Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()),
      Buffer.from(
        proto.temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode(describe).finish(),
      ),
    ]
      .map((b) => b.toString('latin1'))
      .join('\n');
    for (const secret of [customer.email, customer.phone, customer.name, 'Grace', token]) {
      expect(raw, secret).not.toContain(secret);
    }
    // Not vacuous: the history does carry the link, every payload of it encrypted.
    expect(history.events?.length).toBeGreaterThan(10);
    expect(payloads.length).toBeGreaterThan(5);
    for (const p of payloads) {
      expect(Buffer.from(p.metadata?.[METADATA_ENCODING_KEY] ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    }
    // The refused email's failure: its message travels encrypted in the encoded attributes.
    const failed = history.events?.find((e) => e.activityTaskFailedEventAttributes);
    expect(failed?.activityTaskFailedEventAttributes?.failure?.message).toBe('Encoded failure');
    expect(failed?.activityTaskFailedEventAttributes?.failure?.encodedAttributes).toBeTruthy();
    // Search attributes and the workflow id are ids only; no memo.
    const info = describe.workflowExecutionInfo;
    expect(info?.execution?.workflowId).toBe(linkId);
    // A memo, if any, is the codec's like every other payload.
    for (const p of Object.values(info?.memo?.fields ?? {})) {
      expect(Buffer.from(p.metadata?.[METADATA_ENCODING_KEY] ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    }
    const attributes = Object.values(info?.searchAttributes?.indexedFields ?? {}).map((p) =>
      Buffer.from(p.data ?? []).toString(),
    );
    expect(attributes.length).toBeGreaterThan(0);
    expect(attributes.join(' ')).not.toMatch(/grace|hopper|4155550199/i);
  });

  it('decodes the history for an operator: POST /codec/decode', async () => {
    const res = await codec('/codec/decode', { payloads: payloads.map(toJson) }, operator);
    expect(res.status).toBe(200);
    expect(res.body.payloads).toHaveLength(payloads.length);
    const clear = res.body.payloads.map((p: { data: string }) => text(p.data)).join('\n');
    for (const secret of [customer.email, customer.phone, customer.name, token, 'mailbox unavailable']) {
      expect(clear).toContain(secret);
    }
    expect(text(res.body.payloads[0].metadata.encoding)).toBe('json/plain');
  });

  it("decodes for the Temporal CLI: temporal workflow show --codec-endpoint … --codec-auth 'Bearer …'", async () => {
    const show = (...codecFlags: string[]) =>
      promisify(execFile)(
        inject('temporalCliPath'),
        [
          'workflow',
          'show',
          '--address',
          inject('temporalAddress'),
          '--workflow-id',
          linkId,
          '--output',
          'json',
          ...codecFlags,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      ).then((r) => r.stdout);
    // The CLI prints payloads as proto JSON: data in base64.
    const clearText = (out: string) =>
      payloadsIn(JSON.parse(out))
        .map((p) => text(p.data as unknown as string))
        .join('\n');
    const withCodec = await show(
      '--codec-endpoint',
      `${stack.baseUrl}/codec`,
      '--codec-auth',
      `Bearer ${CODEC_TOKEN}`,
    );
    expect(clearText(withCodec)).toContain(customer.email);
    expect(clearText(withCodec)).toContain('mailbox unavailable');
    expect(clearText(await show())).not.toContain(customer.email);
  });

  it('serves the UI with the token in the path, and answers its CORS preflight for its origin only', async () => {
    const inPath = await codec(`/codec/t/${CODEC_TOKEN}/decode`, { payloads: payloads.map(toJson) });
    expect(inPath.status).toBe(200);
    expect(inPath.body.payloads.map((p: { data: string }) => text(p.data)).join('')).toContain(
      customer.email,
    );

    const preflight = (origin: string) =>
      fetch(`${stack.baseUrl}/codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace,authorization',
        },
      });
    const allowed = await preflight(UI_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses (401) a caller without the operator token, an account API key and a wrong token', async () => {
    const body = { payloads: payloads.map(toJson) };
    const anonymous = await codec('/codec/decode', body);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toMatchObject({ type: 'authentication_error', code: 'unauthorized' });
    expect(JSON.stringify(anonymous.body)).not.toContain(customer.email);

    const accountKey = await codec('/codec/decode', body, {
      authorization: `Bearer ${stack.account.apiKey}`,
    });
    expect(accountKey.status).toBe(401);
    expect(accountKey.body.error.message).toMatch(/account API keys cannot decode/);
    expect((await codec('/codec/encode', body)).status).toBe(401);
    expect((await codec('/codec/t/not-the-token/decode', body)).status).toBe(401);
  });

  it('encodes for the UI (a signal typed in it) and refuses malformed or tampered payloads with 400', async () => {
    const clear = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: 'eyJhIjoxfQ==',
    };
    const encoded = await codec('/codec/encode', { payloads: [clear] }, operator);
    expect(encoded.status).toBe(200);
    expect(text(encoded.body.payloads[0].metadata.encoding)).toBe(ENCRYPTED_ENCODING);
    const decoded = await codec('/codec/decode', encoded.body, operator);
    expect(decoded.body.payloads).toEqual([clear]);

    const malformed = await codec('/codec/decode', { payloads: 'nope' }, operator);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.param).toMatch(/^payloads/);

    const tampered = structuredClone(encoded.body) as { payloads: { data: string }[] };
    const first = tampered.payloads[0] as { data: string };
    const data = Buffer.from(first.data, 'base64');
    data[15] = (data[15] as number) ^ 1;
    first.data = data.toString('base64');
    const refused = await codec('/codec/decode', tampered, operator);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'payload_undecryptable', param: 'payloads' });
    expect(refused.body.error.message).toMatch(/failed authentication/);
  });
});

describe('a payload that is not encrypted', () => {
  it('is refused by the worker: a plaintext paymentReceived signal from a raw client marks nothing paid', async () => {
    const created = await stack.request('POST', '/v1/payment_links', {
      json: { amount: 2500, currency: 'USD', description: 'Forged payment target' },
    });
    expect(created.status).toBe(201);
    const linkId = created.body.id as string;
    // Anyone who reaches the frontend: a client without the codec, a payment it makes up.
    await plain.workflow.getHandle(linkId).signal(paymentReceivedSignal, {
      provider: 'sandbox',
      paymentId: 'pay_forged_plaintext',
      amount: 2500,
      currency: 'USD',
    });
    // What the worker did with it: failed the task that delivered it, or (the bug) took it.
    const failedTask = await eventually(
      async () => {
        const history = await stack.temporal.workflow.getHandle(linkId).fetchHistory();
        const signalled = history.events?.findIndex((e) => e.workflowExecutionSignaledEventAttributes) ?? -1;
        const failed = history.events
          ?.slice(signalled + 1)
          .find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
        if (signalled >= 0 && failed) return failed;
        const row = await stack.db('payment_links').where({ id: linkId }).first();
        return row.status !== 'active' ? null : undefined;
      },
      WAIT_MS,
      'the worker to refuse or take the plaintext signal',
    );
    const row = await stack.db('payment_links').where({ id: linkId }).first();
    expect(row).toMatchObject({ status: 'active', amount_paid: 0 });
    expect(await stack.db('payments').where({ link_id: linkId })).toEqual([]);
    expect(failedTask).not.toBeNull();
    // Why, in the failure's (encrypted) message: the payload was not encrypted.
    await revealEncodedFailures(failedTask, [new AesGcmPayloadCodec(TEST_CODEC_KEYS)]);
    expect(failedTask?.failure?.message).toMatch(/not encrypted/);
  });
});
