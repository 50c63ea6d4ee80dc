/**
 * Operator tooling against the real stack: /metrics moves when a link is paid, a request id is
 * followed from the response header into the log line and into Temporal, and the CLI's `links`
 * commands (the API) and `links history` (Temporal) print what an operator needs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { PROJECT_ROOT } from '../../src/paths';
import { requestIdOfHeader } from '../../src/temporal/request-id-interceptor';
import { DEFAULT_LIFECYCLE_SETTINGS, SearchAttributes } from '../../workflows/payment-link/contract';
import { PATCHES } from '../../workflows/payment-link/workflow';
import { listenTestApi, type Stack, startStack } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS_SPEC } from '../helpers/temporal';

const METRICS_TOKEN = 'metrics-test-token-0123456789';
const run = promisify(execFile);

let stack: Stack;
let api: Awaited<ReturnType<typeof listenTestApi>>;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  stack = await startStack();
  // The stack's worker, database and Temporal, behind an API whose log lines the test reads.
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  api = await listenTestApi({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    logger: createLogger('info', 'paylinks-test', { destination: sink }),
    metricsToken: METRICS_TOKEN,
    devPeers: stack.peers,
    // Workflows end a second after their link closes (history is read once they have).
    settings: { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1000 },
  });
});
afterAll(async () => {
  await api?.close();
  await stack?.stop();
});

async function call(method: string, path: string, json?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.account.apiKey}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function scrape(): Promise<string> {
  const res = await fetch(`${api.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** One sample's value (0 when the series does not exist yet). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** The customer's way to pay: the link page, the sandbox checkout, its signed callback. */
async function payThroughSandbox(url: string): Promise<void> {
  const path = new URL(url).pathname;
  const form = (target: string, fields: Record<string, string>) =>
    fetch(target.startsWith('http') ? target : `${api.baseUrl}${target}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const pay = await form(`${path}/pay`, {});
  expect(pay.status).toBe(303);
  const done = await form(pay.headers.get('location') as string, { outcome: 'succeed' });
  expect(done.status).toBe(303);
}

const untilStatus = (id: string, status: string) =>
  eventually(
    async () => {
      const r = await call('GET', `/v1/payment_links/${id}`);
      return r.body.status === status ? r.body : undefined;
    },
    undefined,
    `${id} to be ${status}`,
  );

describe('/metrics', () => {
  it('is closed without the token and absent from an API that has none', async () => {
    expect((await fetch(`${api.baseUrl}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${api.baseUrl}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${stack.baseUrl}/metrics`)).status).toBe(404);
  });

  it('exposes the named series, and they move when a link is paid', async () => {
    const before = await scrape();
    const email = 'metrics.buyer@example.com';
    const created = await call('POST', '/v1/payment_links', {
      amount: 2500,
      currency: 'USD',
      customer: { email },
      channels: ['email'],
    });
    expect(created.status).toBe(201);
    await eventually(async () =>
      stack.peers.smtp.messages.find((m) => m.envelopeTo.includes(email)) ? true : undefined,
    );
    await payThroughSandbox(created.body.url);
    await untilStatus(created.body.id, 'paid');
    // A forged callback: refused and counted.
    const forged = await fetch(`${api.baseUrl}/v1/callbacks/sandbox`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'paylinks-signature': 't=1,v1=00' },
      body: '{}',
    });
    expect(forged.status).toBe(400);

    const delta = (text: string, name: string, labels?: Record<string, string>) =>
      sample(text, name, labels) - sample(before, name, labels);
    const after = await eventually(async () => {
      const text = await scrape();
      return delta(text, 'paylinks_links_closed_total', { status: 'paid' }) >= 1 &&
        delta(text, 'paylinks_messages_total', { channel: 'email', outcome: 'sent' }) >= 2 // link + receipt
        ? text
        : undefined;
    });
    expect(delta(after, 'paylinks_links_created_total')).toBe(1);
    expect(delta(after, 'paylinks_links_closed_total', { status: 'paid' })).toBe(1);
    expect(delta(after, 'paylinks_payments_total', { outcome: 'succeeded' })).toBe(1);
    expect(
      delta(after, 'paylinks_webhook_deliveries_total', { outcome: 'no_endpoint' }),
    ).toBeGreaterThanOrEqual(1);
    expect(delta(after, 'paylinks_callback_verification_failures_total', { provider: 'sandbox' })).toBe(1);
    // Labelled by route pattern: the link id never becomes a label.
    expect(
      delta(after, 'paylinks_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/payment_links',
        status: '201',
      }),
    ).toBe(1);
    expect(
      delta(after, 'paylinks_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/payment_links/:id',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain(created.body.id);
    expect(after).toContain('paylinks_process_resident_memory_bytes');
    expect(after).toContain('paylinks_nodejs_eventloop_lag_seconds');
  });
});

describe('request ids', () => {
  it('follows a request from the response header into the log line and into Temporal', async () => {
    const incoming = 'trace-4711-abcdef';
    const order = await call('POST', '/v1/orders', { amount: 990, currency: 'EUR' });
    expect(order.status).toBe(201);
    const created = await call(
      'POST',
      '/v1/payment_links',
      {
        amount: 990,
        currency: 'EUR',
        reference: `REF-${Date.now()}`,
        order_id: order.body.id,
        customer: { email: 'ida.request@example.com' },
        channels: [],
      },
      { 'x-request-id': incoming },
    );
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toBe(incoming);

    const line = await eventually(async () =>
      logLines.find((l) => l.request_id === incoming && l.msg === 'request'),
    );
    expect(line).toMatchObject({
      method: 'POST',
      route: '/v1/payment_links',
      status: 201,
      account_id: stack.account.accountId,
    });
    expect(typeof line.duration_ms).toBe('number');
    expect(JSON.stringify(logLines)).not.toContain('ida.request@example.com');
    expect(JSON.stringify(logLines)).not.toContain(stack.account.apiKey);

    // In Temporal: the memo, the start's header and the creation update's header.
    const handle = stack.temporal.workflow.getHandle(created.body.id);
    const description = await handle.describe();
    expect(description.memo?.request_id).toBe(incoming);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(requestIdOfHeader(started?.header)).toBe(incoming);
    const accepted = history.events?.find(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
    )?.workflowExecutionUpdateAcceptedEventAttributes;
    expect(requestIdOfHeader(accepted?.acceptedRequest?.input?.header)).toBe(incoming);

    // What the Temporal UI shows for it, and the new search attributes.
    expect(await description.staticSummary()).toBe(
      `Payment link 9.90 EUR for i•••@example.com, ref ${created.body.reference}`,
    );
    const details = (await description.staticDetails()) ?? '';
    expect(details).toContain(`**Order:** ${created.body.order_id}`);
    expect(details).not.toContain('ida.request@example.com');
    expect(description.typedSearchAttributes.get(SearchAttributes.Reference)).toBe(created.body.reference);
    expect(description.typedSearchAttributes.get(SearchAttributes.OrderId)).toBe(created.body.order_id);
  });

  it('replaces an id that is not sane, and makes one up when none is given', async () => {
    const odd = await call('GET', '/v1/payment_links?limit=1', undefined, { 'x-request-id': 'a b\tc"' });
    expect(odd.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const none = await call('GET', '/v1/payment_links?limit=1');
    expect(none.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(none.headers.get('x-request-id')).not.toBe(odd.headers.get('x-request-id'));
  });
});

describe('paylinks links', () => {
  const paylinks = (...args: string[]) =>
    // The package's bin without npx's own start-up: the same code path, less load on a busy machine.
    run(process.execPath, [join(PROJECT_ROOT, 'bin/paylinks.js'), 'links', ...args], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        PAYLINKS_API_URL: api.baseUrl,
        PAYLINKS_API_KEY: stack.account.apiKey,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: 'default',
        // The history's payloads are encrypted with the tests' key.
        PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS_SPEC,
        LOG_LEVEL: 'silent',
      },
    });

  it('history prints a readable timeline of a paid link', async () => {
    // The SMS provider fails the first attempt: the history says which attempt failed and why.
    const phone = '+14155550177';
    stack.peers.twilio.failFor(phone, { status: 500, code: 20500, message: 'try again', times: 1 });
    const created = await call('POST', '/v1/payment_links', {
      amount: 4200,
      currency: 'USD',
      reference: `HIST-${Date.now()}`,
      customer: { email: 'hanna.history@example.com', phone },
      channels: ['email', 'sms'],
      reminders: { after_created: ['PT1H'], before_expiry: [] },
    });
    expect(created.status).toBe(201);
    await eventually(async () => {
      const sms = await stack.db('notifications').where({ link_id: created.body.id, channel: 'sms' }).first();
      return sms?.status === 'sent' ? true : undefined;
    });
    await payThroughSandbox(created.body.url);
    await untilStatus(created.body.id, 'paid');
    const handle = stack.temporal.workflow.getHandle(created.body.id);
    await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));

    const { stdout } = await paylinks('history', created.body.id);
    expect(stdout).toMatch(
      /notifyCustomer \(sms link to \S+\): attempt 2 started; attempt 1 had failed: (Error: )?twilio 500 \(20500\): try again/,
    );
    expect(stdout).toMatch(
      /Workflow paymentLinkWorkflow started on task queue \S+: Payment link 42\.00 USD for h•••@example\.com/,
    );
    // Stored by a local activity inside the first workflow task: one marker, no activity task.
    expect(stdout).not.toContain('Scheduled persistLink');
    expect(stdout).toContain('persistLink (store the link) completed in the workflow task: created');
    // A new run records the markers of the newest versions (each implies the ones before it).
    expect(stdout).toContain(`Runs workflow version ${PATCHES.finalClose}`);
    expect(stdout).toContain(`Runs workflow version ${PATCHES.precomputedInstants}`);
    expect(stdout).toMatch(/Update linkCreated accepted \[request req_[0-9a-f]{32}\]/);
    expect(stdout).toContain('Scheduled notifyCustomer: email link to h•••@example.com');
    expect(stdout).toContain('notifyCustomer (email link to h•••@example.com) completed: sent');
    // The reminder is an hour away, later if the customer's quiet hours hold it back.
    expect(stdout).toMatch(/Waiting \d+ (min|h) for reminder 1 of 1/);
    expect(stdout).toMatch(
      /Signal paymentReceived received: 4200 USD via sandbox \[request req_[0-9a-f]{32}\]/,
    );
    expect(stdout).toContain('Stopped waiting for reminder 1 of 1 (something else happened first)');
    expect(stdout).toContain('Scheduled recordPayments: record 1 payment');
    expect(stdout).toContain('recordPayments (record 1 payment) completed: 1 recorded, 0 duplicate');
    // Webhooks and the receipt are written with the payment (the outbox), not the workflow's activities.
    expect(stdout).not.toContain('deliverWebhook');
    // A lean run ends once the link is closed and its messages are out: no late-payment window.
    expect(stdout).not.toContain('late-payment window');
    expect(stdout).toContain('Search attributes set: LinkStatus=paid');
    expect(stdout).not.toContain('receipt');
    expect(stdout).toContain('Workflow completed: the link ended paid, 4200 paid in 1 payment(s)');
    expect(stdout).not.toContain('hanna.history@example.com');
    // Each line: a time, the event number, a sentence.
    for (const line of stdout.trim().split('\n'))
      expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}#\d+ +\S/);
  });

  it('list, show, timeline, resend and cancel go through the API', async () => {
    const reference = `CLI-${Date.now()}`;
    const created = await call('POST', '/v1/payment_links', {
      amount: 1234,
      currency: 'USD',
      reference,
      customer: { email: 'carl.cli@example.com' },
      channels: [],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const list = await paylinks('list', '--reference', reference);
    expect(list.stdout.trim()).toMatch(
      new RegExp(`^${id}  active +1234 USD  created \\S+  ref ${reference}$`),
    );

    const show = await paylinks('show', id);
    expect(show.stdout).toContain(`id           ${id}`);
    expect(show.stdout).toContain('status       active');
    expect(show.stdout).toContain(`reference    ${reference}`);

    const resend = await paylinks('resend', id, '--channel', 'email');
    expect(resend.stdout).toBe(`resending ${id} by email\n`);
    await eventually(async () =>
      stack.peers.smtp.messages.find((m) => m.envelopeTo.includes('carl.cli@example.com')) ? true : undefined,
    );

    const cancelled = await paylinks('cancel', id, '--reason', 'customer asked');
    expect(cancelled.stdout).toMatch(new RegExp(`^cancelled ${id}  cancelled `));
    expect((await call('GET', `/v1/payment_links/${id}`)).body.status).toBe('cancelled');

    const timeline = await paylinks('timeline', id);
    expect(timeline.stdout).toMatch(/payment_link\.created {2}amount=1234 currency=USD/);
    expect(timeline.stdout).toMatch(/payment_link\.cancelled {2}reason=customer asked/);

    // Refusals are one clear line, and nothing changes.
    await expect(paylinks('cancel', id)).rejects.toThrow(/409 \S+: .*cancelled/);
    await expect(paylinks('resend', id, '--channel', 'fax')).rejects.toThrow(
      /--channel: "fax" is not email or sms/,
    );
  });
});
