/**
 * Records, on the payment-link workflow as it was before `precomputed-instants` (commit
 * PRE_PATCH_COMMIT, taken from git), a run that computes its reminder instants in the workflow
 * with the zone rules: a Paris customer, quiet hours and a reminder across a DST change. It is
 * what a link started before the patch does, and the replay test proves two things with it: the
 * legacy path (the frozen rules in workflows/payment-link/legacy/) still replays it, and on a host
 * whose Paris rules drifted that replay fails, in a test and not in a year-long link.
 *
 * Run once, into the folder of the patch that froze those rules (it refuses to overwrite):
 *   npx vitest run --config vitest.record.config.ts test/record/pre-patch-histories.record.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { createChannels } from '../../src/notifications/channels';
import { PROJECT_ROOT } from '../../src/paths';
import { FAILURE_CONVERTER_PATH, payloadDataConverter } from '../../src/temporal/payload-codec';
import { createPaylinksWorker, type PaylinksWorker } from '../../src/worker/create-worker';
import { PATCHES } from '../../workflows/payment-link/workflow';
import { type LinkHandle, linkTools } from '../helpers/links';
import { PARIS, parisDstPolicy } from '../helpers/paris-dst';
import { PUBLIC_BASE_URL, type Stack, startStack, TEST_NOTIFICATION_CONFIG } from '../helpers/stack';
import { TEST_CODEC_KEYS, TEST_SECRETS_KEY, uniqueTaskQueue, WAIT_MS } from '../helpers/temporal';
import { exportHistory } from './export-history';

/** main just before `precomputed-instants`: its workflow computed reminders with luxon. */
const PRE_PATCH_COMMIT = '395c489c8c7cbf3b9ee87962f7837084d3cca078';
const DIR = join(PROJECT_ROOT, 'test/fixtures/histories', `7-${PATCHES.precomputedInstants}`);

let stack: Stack;
let t: ReturnType<typeof linkTools>;
let checkout: string;
let connection: NativeConnection;
let worker: PaylinksWorker;
let running: Promise<void>;
let channels: ReturnType<typeof createChannels>;
const taskQueue = uniqueTaskQueue('pre-patch');

beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
  // The old workflow's sources, inside the project so that its packages resolve from node_modules.
  mkdirSync(join(PROJECT_ROOT, '.data'), { recursive: true });
  checkout = mkdtempSync(join(PROJECT_ROOT, '.data', 'pre-patch-'));
  const archive = execFileSync('git', ['archive', PRE_PATCH_COMMIT, 'workflows', 'src/observability'], {
    cwd: PROJECT_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', checkout], { input: archive });
  const bundle = await bundleWorkflowCode({
    workflowsPath: join(checkout, 'workflows/payment-link/workflow.ts'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  const bundlePath = join(checkout, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  // Today's activities (the old code calls the same ones) on the tests' SMTP and SMS peers.
  channels = createChannels(TEST_NOTIFICATION_CONFIG, PUBLIC_BASE_URL, stack.peers);
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await createPaylinksWorker({
    connection,
    namespace: 'default',
    taskQueue,
    db: stack.db,
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: PUBLIC_BASE_URL,
    ratePerSecond: { email: 100, sms: 100 },
    secretsKey: TEST_SECRETS_KEY,
    dataConverter: payloadDataConverter(TEST_CODEC_KEYS),
    webhookEgress: { allowPrivate: true },
    workflowBundlePath: bundlePath,
    outbox: false, // the stack's worker drains the outbox
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  channels?.close();
  await stack?.stop();
  if (checkout) rmSync(checkout, { recursive: true, force: true });
});

async function save(name: string, handle: LinkHandle): Promise<void> {
  const file = join(DIR, `${name}.json`);
  if (existsSync(file)) throw new Error(`${file} exists: recorded histories are never overwritten`);
  await handle.result();
  const { workflowId, runId } = await handle.describe();
  mkdirSync(DIR, { recursive: true });
  writeFileSync(file, await exportHistory(workflowId, runId));
}

describe('record on the code before precomputed-instants', () => {
  it('Paris: a reminder across a DST change, moved out of quiet hours, computed in the workflow', async () => {
    const policy = parisDstPolicy(Date.now());
    // Started as that code's API started links: terms and settings, no plan.
    const { id, handle } = await t.startLink(
      {
        amount: 2000,
        customer: { name: 'Ada', email: 'ada@example.com', timezone: PARIS },
        channels: ['email'],
        ...policy.body,
      },
      { taskQueue },
    );
    await t.untilEvent(id, 'payment_link.reminded', 1, policy.windowEnd - Date.now() + WAIT_MS);
    await t.pay(handle, { paymentId: 'pi_rec_paris_pre', amount: 2000 });
    await save('pre-patch-paris-dst-quiet-hours', handle);
  });
});
