/**
 * "A crash must not stall": a `persistLink` running on a worker that is killed mid-write is
 * retried on another worker, and the link is created once by that second attempt. A new link's
 * `persistLink` is a local activity (`lean-lifecycle`): it runs inside the first workflow task, so
 * the killed worker's task times out and the surviving worker runs the task, and the write, again.
 * (Read from the history, not timed.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { reconcilerScheduleId } from '../../src/reconciler/schedule';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS_SPEC, WAIT_MS, within } from '../helpers/temporal';

let stack: Stack;
let child: ChildProcess | undefined;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // The worker role created the reconciler's schedule on the shared server: it goes with the test.
  await stack?.temporal.schedule
    .getHandle(reconcilerScheduleId(stack.taskQueue))
    .delete()
    .catch(() => undefined);
  await stack?.stop();
});

/** `npm run worker` as production runs it, in its own process, on the stack's task queue. */
async function workerProcess(): Promise<ChildProcess> {
  const started = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      // The stack's API encrypts with the tests' key.
      PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS_SPEC,
      SMTP_URL: stack.peers.smtp.url,
      TWILIO_ACCOUNT_SID: stack.peers.twilio.accountSid,
      TWILIO_AUTH_TOKEN: stack.peers.twilio.authToken,
      TWILIO_FROM: stack.peers.smsFrom,
      TWILIO_API_BASE_URL: stack.peers.twilioBaseUrl,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  started.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  started.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  await eventually(
    async () => {
      if (started.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
      return output.includes('worker polling task queue') ? true : undefined;
    },
    90_000,
    'the worker process to poll',
  );
  return started;
}

/** The stack database's sessions waiting on a lock while inserting a link. */
const blockedInserts = async () => {
  const { rows } = await stack.db.raw(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'insert into "payment_links"%'`,
  );
  return rows[0].n as number;
};

it('a persistLink on a killed worker is retried on another worker and creates the link', async () => {
  child = await workerProcess();
  const exited = new Promise((done) => child?.once('exit', done));

  // Inserts into payment_links wait behind this lock: the first attempt stays mid-write.
  const lock = await stack.db.transaction();
  await lock.raw('LOCK TABLE payment_links IN SHARE MODE');
  const creating = stack.request('POST', '/v1/payment_links', { json: { amount: 1234, currency: 'USD' } });
  await eventually(
    async () => ((await blockedInserts()) > 0 ? true : undefined),
    WAIT_MS,
    'persistLink to block',
  );

  child.kill('SIGKILL');
  await within(exited, WAIT_MS, 'the worker process to die');
  await stack.startWorker();
  await lock.commit();

  const created = await creating;
  expect([201, 202]).toContain(created.status);
  const id = created.body.id as string;
  const row = await eventually(
    async () => stack.db('payment_links').where({ id }).first(),
    WAIT_MS,
    'the link row',
  );
  expect(row).toMatchObject({ amount: 1234, status: 'active' });
  expect(await stack.db('link_events').where({ link_id: id, type: 'payment_link.created' })).toHaveLength(1);

  const history = (await stack.temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
  // The first workflow task died with the worker; it timed out and ran again elsewhere.
  const tasks = history.filter((e) => e.workflowTaskStartedEventAttributes);
  expect(tasks.length).toBeGreaterThanOrEqual(2);
  expect(history.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(true);
  // The write is one local activity's marker, recorded once, by the surviving attempt.
  const markers = history.filter(
    (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  );
  const [persisted] = markers;
  const data = persisted?.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
  expect(JSON.parse(Buffer.from(data ?? []).toString()).activity_type).toBe('persistLink');
  expect(
    history.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'persistLink'),
  ).toBe(false);
}, 240_000);
