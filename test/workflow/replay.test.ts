/**
 * Determinism guard: every recorded history in test/fixtures/histories must replay against the
 * current workflow code. A change that would break running links fails here.
 *
 * Replays run through the payload codec as the worker does: the histories recorded before it
 * (1-…, 2-…) hold plain payloads, which pass through; 3-encrypted-payloads and later sets were
 * recorded with the codec on, under the tests' fixed key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, type ReplayResult, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { payloadDataConverter } from '../../src/temporal/payload-codec';
import { PATCHES } from '../../workflows/payment-link/workflow';
import { installQuietRuntime, TEST_CODEC_KEYS } from '../helpers/temporal';

// The drifted replays below warn about nondeterminism on purpose.
installQuietRuntime('ERROR');

/** One folder per workflow version, oldest first; each holds the histories recorded on it. */
const ROOT = join(PROJECT_ROOT, 'test/fixtures/histories');
const versions = readdirSync(ROOT).sort();
const files = versions.flatMap((version) =>
  readdirSync(join(ROOT, version))
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(version, f)),
);
const idOf = (file: string) => file.replace(/\.json$/, '');
const histories = () =>
  files.map((file) => ({
    workflowId: idOf(file),
    // Raw JSON, as `temporal workflow show --output json` wrote it; the replayer parses it.
    history: JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as unknown,
  }));

interface RecordedEvent {
  eventType: string;
  markerRecordedEventAttributes?: {
    markerName?: string;
    details?: Record<string, { payloads?: { data?: string }[] }>;
  };
}
interface ScheduledEvent extends RecordedEvent {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}
const historyEvents = (version: string, file: string): RecordedEvent[] =>
  (JSON.parse(readFileSync(join(ROOT, version, file), 'utf8')) as { events: RecordedEvent[] }).events;

const patchesOf = (version: string, file: string) =>
  historyEvents(version, file)
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? '')
    .map((data) => JSON.parse(Buffer.from(data, 'base64').toString()).id as string);

const MAIN_PATHS = [
  'continued-as-new-first-run.json',
  'continued-as-new-last-run.json',
  'expired-late-payment.json',
  'multi-use-completed.json',
  'paid.json',
  'partial-overpaid.json',
  'updated-cancelled.json',
];

const ENCRYPTED = '3-encrypted-payloads';
const OUTBOX = '4-outbox-deliveries';
const LEAN = '5-lean-lifecycle';
const FINAL = '6-final-close';
/** Versions without the late-payment window, with the patch marker a run of each records. */
const LEAN_VERSIONS: Record<string, string> = {
  [LEAN]: PATCHES.leanLifecycle,
  [FINAL]: PATCHES.finalClose,
};

async function replayAll(
  workflowBundle: { code: string } | { codePath: string },
  { codec = true, only }: { codec?: boolean; only?: string } = {},
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const dataConverter = codec ? payloadDataConverter(TEST_CODEC_KEYS) : undefined;
  const selected = histories().filter((h) => !only || h.workflowId.startsWith(`${only}/`));
  for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter }, selected))
    results.push(result);
  return results;
}

describe('replay', () => {
  it('has recorded histories of the main paths for every version, and of what each version added', () => {
    expect(versions).toEqual(['1-initial', '2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN, FINAL]);
    for (const version of versions) {
      expect(readdirSync(join(ROOT, version))).toEqual(expect.arrayContaining(MAIN_PATHS));
    }
    for (const version of ['2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN, FINAL])
      expect(readdirSync(join(ROOT, version))).toEqual(
        expect.arrayContaining([
          'batched-payments.json',
          'data-errors.json',
          'document-settled-closed.json',
          'document-settled-payer.json',
        ]),
      );
    expect(readdirSync(join(ROOT, FINAL))).toEqual(
      expect.arrayContaining([
        'payment-during-expiry.json',
        'payment-during-cancel.json',
        'busy-handed-over-first-run.json',
        'busy-handed-over-last-run.json',
        'hand-over-asked-first-run.json',
        'hand-over-asked-last-run.json',
      ]),
    );
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = await replayAll({ codePath: inject('workflowBundlePath') });
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      files.map((f) => [idOf(f), undefined]),
    );
  });

  it('holds an encrypted set: no customer data in clear, and it does not replay without the codec', async () => {
    for (const file of files.filter((f) => f.startsWith(`${ENCRYPTED}/`))) {
      const raw = readFileSync(join(ROOT, file), 'utf8');
      expect(raw, file).not.toContain('ada@example.com');
      expect(raw, file).toContain(Buffer.from('binary/encrypted').toString('base64'));
    }
    const withoutCodec = await replayAll(
      { codePath: inject('workflowBundlePath') },
      { codec: false, only: ENCRYPTED },
    );
    expect(withoutCodec.length).toBeGreaterThan(0);
    for (const result of withoutCodec) expect(result.error, result.workflowId).toBeDefined();
  });

  it('an old run keeps its late-payment window; a lean run ends as soon as the link closes', () => {
    // Replayed green with the current code (above), a history proves which commands that code
    // issues for a run of its version: a timer the code did not start, or one it started that
    // the history lacks, would fail the replay. After the payment that closes the link, a run
    // started before `lean-lifecycle` waits out the window (a timer, then the end); a lean run
    // ends in the workflow task that records the payment.
    const afterClosingPayment = (version: string, file: string) => {
      const events = historyEvents(version, file);
      const closing = events.findLastIndex((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
      expect(events.at(-1)?.eventType, `${version}/${file}`).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
      return events
        .slice(closing + 1)
        .map((e) => e.eventType)
        .filter((type) => type.startsWith('EVENT_TYPE_TIMER_'));
    };
    for (const file of ['paid.json', 'multi-use-completed.json']) {
      for (const version of versions.filter((v) => !LEAN_VERSIONS[v])) {
        expect(patchesOf(version, file), `${version}/${file}`).not.toContain(PATCHES.leanLifecycle);
        expect(afterClosingPayment(version, file), `${version}/${file}`).toEqual(
          expect.arrayContaining(['EVENT_TYPE_TIMER_STARTED', 'EVENT_TYPE_TIMER_FIRED']),
        );
      }
      for (const [version, patch] of Object.entries(LEAN_VERSIONS)) {
        expect(patchesOf(version, file), `${version}/${file}`).toEqual([patch]);
        expect(afterClosingPayment(version, file), `${version}/${file}`).not.toContain(
          'EVENT_TYPE_TIMER_STARTED',
        );
      }
    }
  });

  it('a lean run writes its close in the task that completes it; a final-close run schedules it first', () => {
    // Replayed green with the current code, the histories prove which commands each version
    // issues for a close: a local activity's marker (lean-lifecycle), or an activity whose
    // completion comes before the run's (final-close), so a payment can no longer undo it.
    const closingWrite = (version: string, file: string) => {
      const events = historyEvents(version, file);
      const scheduled = events.filter(
        (e) =>
          (e as ScheduledEvent).activityTaskScheduledEventAttributes?.activityType?.name === 'recordChange',
      );
      return { activities: scheduled.length, last: events.at(-1)?.eventType };
    };
    for (const file of ['expired-late-payment.json', 'updated-cancelled.json']) {
      expect(closingWrite(LEAN, file), `${LEAN}/${file}`).toEqual({
        activities: 0,
        last: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
      });
      expect(closingWrite(FINAL, file), `${FINAL}/${file}`).toEqual({
        activities: 1,
        last: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
      });
    }
    // The payment that came while the close was being written is recorded after it, by the same run.
    for (const file of ['payment-during-expiry.json', 'payment-during-cancel.json']) {
      const types = historyEvents(FINAL, file).map(
        (e) => (e as ScheduledEvent).activityTaskScheduledEventAttributes?.activityType?.name ?? e.eventType,
      );
      expect(types.indexOf('recordChange'), file).toBeGreaterThan(0);
      expect(types.indexOf('recordPayments'), file).toBeGreaterThan(types.indexOf('recordChange'));
      expect(types.indexOf('recordChange'), file).toBeLessThan(
        types.indexOf('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED'),
      );
    }
  });

  it('a final-close run hands over with its queued payments, and when asked to', () => {
    const first = historyEvents(FINAL, 'busy-handed-over-first-run.json');
    const signals = first.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED').length;
    const recordings = first.filter(
      (e) =>
        (e as ScheduledEvent).activityTaskScheduledEventAttributes?.activityType?.name === 'recordPayments',
    ).length;
    // More payments came than the run recorded: the rest went to the next run, which records them.
    expect(signals).toBeGreaterThan(recordings);
    expect(first.at(-1)?.eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    const last = historyEvents(FINAL, 'busy-handed-over-last-run.json');
    expect(last.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED')).toEqual([]);
    expect(last.at(-1)?.eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const asked = historyEvents(FINAL, 'hand-over-asked-first-run.json');
    expect(asked.at(-1)?.eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
  });

  it('fails for a nondeterministic change (the guard is real)', async () => {
    const drifted = await bundleWorkflowCode({
      workflowsPath: join(PROJECT_ROOT, 'test/fixtures/drifted-workflow/index.ts'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    const results = await replayAll(drifted);
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect(result.error?.name, result.workflowId).toBe('DeterminismViolationError');
    }
  });
});
