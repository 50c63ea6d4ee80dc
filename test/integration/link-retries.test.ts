/**
 * Management requests on a link are safe to retry and to race, over HTTP on the real stack:
 * reissuing a closed link makes one replacement however often (and however concurrently) it is
 * asked, and a cancel, update or extend retried after its answer was lost is the same workflow
 * update again (Temporal runs an update id once), so it answers what the first attempt did
 * instead of a 409 or a 400.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkWorkflowId } from '../../workflows/payment-link/contract';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Answer {
  status: number;
  body: any;
}

const post = async (path: string, json: unknown, key?: string): Promise<Answer> => {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${stack.account.apiKey}`,
      'content-type': 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: JSON.stringify(json),
  });
  return { status: res.status, body: await res.json() };
};
const newKey = () => `key-${randomUUID()}`;
/** As if the first attempt had died after Temporal took its update, before its answer was stored. */
const forgetAnswer = (key: string) =>
  stack.db('idempotency_keys').where({ key }).update({ response_status: null, response_body: null });

const openLink = async (body: Record<string, unknown> = {}) => {
  const r = await post('/v1/payment_links', { amount: 900, currency: 'EUR', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; url: string; expires_at: string };
};
const cancelledLink = async () => {
  const link = await openLink();
  expect((await post(`/v1/payment_links/${link.id}/cancel`, {})).status).toBe(200);
  return link;
};
const runClosed = (linkId: string) =>
  eventually(
    async () => {
      const { status } = await stack.temporal.workflow.getHandle(linkWorkflowId(linkId)).describe();
      return status.name === 'RUNNING' ? undefined : status.name;
    },
    WAIT_MS,
    `the run of ${linkId} to close`,
  );
const replacementsOf = (id: string) => stack.db('payment_links').where({ reissued_from: id });
const eventsOf = async (id: string, type: string) =>
  (await stack.db('link_events').where({ link_id: id, type })).length;

describe('reissue makes one replacement', () => {
  it('a second reissue answers the replacement the first made, never a second live link', async () => {
    const link = await cancelledLink();
    const first = await post(`/v1/payment_links/${link.id}/reissue`, {});
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'active', reissued_from: link.id });
    const second = await post(`/v1/payment_links/${link.id}/reissue`, {});
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body).toEqual(first.body);
    // With its own Idempotency-Key it is still a reissue of the same link: the same replacement.
    const keyed = await post(`/v1/payment_links/${link.id}/reissue`, {}, newKey());
    expect(keyed).toEqual({ status: 200, body: first.body });
    expect(await replacementsOf(link.id)).toHaveLength(1);
  });

  it('concurrent reissues, with and without keys, yield one live link', async () => {
    const link = await cancelledLink();
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () => post(`/v1/payment_links/${link.id}/reissue`, {})),
      ...Array.from({ length: 3 }, () => post(`/v1/payment_links/${link.id}/reissue`, {}, newKey())),
    ]);
    for (const a of answers) expect([200, 201], JSON.stringify(a.body)).toContain(a.status);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const replacements = await replacementsOf(link.id);
    expect(replacements).toHaveLength(1);
    expect(replacements[0]).toMatchObject({ id: answers[0]?.body.id, status: 'active' });
  });

  it('a replacement closed since is still the answer; reissuing it makes the next one', async () => {
    const link = await cancelledLink();
    const replacement = (await post(`/v1/payment_links/${link.id}/reissue`, {})).body;
    expect((await post(`/v1/payment_links/${replacement.id}/cancel`, {})).status).toBe(200);
    const again = await post(`/v1/payment_links/${link.id}/reissue`, {});
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: replacement.id, status: 'cancelled' });
    const next = await post(`/v1/payment_links/${replacement.id}/reissue`, {});
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ status: 'active', reissued_from: replacement.id });
    expect(await replacementsOf(link.id)).toHaveLength(1);
  });

  it('a reissue refused while the invoice had another open link can be made once that one closes', async () => {
    const invoice = (
      await post('/v1/invoices', {
        number: `INV-${randomUUID()}`,
        amount_due: 2000,
        currency: 'EUR',
        due_date: '2030-01-15',
      })
    ).body;
    const first = (await post(`/v1/invoices/${invoice.id}/payment_link`, {})).body;
    expect((await post(`/v1/payment_links/${first.id}/cancel`, {})).status).toBe(200);
    const other = await post(`/v1/invoices/${invoice.id}/payment_link`, {});
    expect(other.status).toBe(201);
    const refused = await post(`/v1/payment_links/${first.id}/reissue`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'document_has_open_link', payment_link: other.body.id });
    expect((await post(`/v1/payment_links/${other.body.id}/cancel`, {})).status).toBe(200);
    const reissued = await post(`/v1/payment_links/${first.id}/reissue`, {});
    expect(reissued.status, JSON.stringify(reissued.body)).toBe(201);
    expect(reissued.body).toMatchObject({
      status: 'active',
      invoice_id: invoice.id,
      reissued_from: first.id,
    });
    expect((await post(`/v1/payment_links/${first.id}/reissue`, {})).body.id).toBe(reissued.body.id);
  });
});

describe('a retried cancel, update or extend is the same update', () => {
  it('a cancel sent again (its answer lost) answers 200 with the cancelled link; another cancel is 409', async () => {
    const link = await openLink();
    const request = { reason: 'ordered twice' };
    const first = await post(`/v1/payment_links/${link.id}/cancel`, request);
    expect(first).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    // The retry comes after the link's run has ended: Temporal still knows the update's outcome.
    await runClosed(link.id);
    const retry = await post(`/v1/payment_links/${link.id}/cancel`, request);
    expect(retry, JSON.stringify(retry.body)).toEqual(first);
    // A different request to cancel a cancelled link is refused as before.
    const other = await post(`/v1/payment_links/${link.id}/cancel`, { reason: 'something else' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('link_closed');
    expect(await eventsOf(link.id, 'payment_link.cancelled')).toBe(1);
  });

  it('a cancel retried with its Idempotency-Key after a crash answers 200', async () => {
    const link = await openLink();
    const key = newKey();
    const first = await post(`/v1/payment_links/${link.id}/cancel`, { notify_customer: false }, key);
    expect(first).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    await forgetAnswer(key);
    await runClosed(link.id);
    const retry = await post(`/v1/payment_links/${link.id}/cancel`, { notify_customer: false }, key);
    expect(retry, JSON.stringify(retry.body)).toEqual(first);
    const reused = await post(`/v1/payment_links/${link.id}/cancel`, { reason: 'x' }, key);
    expect(reused.body.error).toMatchObject({ code: 'idempotency_key_reused' });
    expect(await eventsOf(link.id, 'payment_link.cancelled')).toBe(1);
  });

  it('an extend retried with its Idempotency-Key after a crash answers 200, not "must be later"', async () => {
    const link = await openLink();
    const key = newKey();
    const later = new Date(Date.parse(link.expires_at) + 86_400_000).toISOString();
    const first = await post(`/v1/payment_links/${link.id}`, { expires_at: later }, key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.expires_at).toBe(later);
    await forgetAnswer(key);
    const retry = await post(`/v1/payment_links/${link.id}`, { expires_at: later }, key);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.expires_at).toBe(later);
  });

  it('an update retried with its Idempotency-Key after a crash is applied once', async () => {
    const link = await openLink();
    const key = newKey();
    const change = { description: 'Corrected description', metadata: { po: '42' } };
    const first = await post(`/v1/payment_links/${link.id}`, change, key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    await forgetAnswer(key);
    const retry = await post(`/v1/payment_links/${link.id}`, change, key);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject(change);
    expect(await eventsOf(link.id, 'payment_link.updated')).toBe(1);
  });
});
