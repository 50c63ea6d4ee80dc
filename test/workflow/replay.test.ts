/**
 * Determinism guard: every recorded history in test/fixtures/histories must replay against the
 * current workflow code. A change that would break running links fails here.
 *
 * Replays run through the payload codec as the worker does: 3-encrypted-payloads and later sets
 * were recorded with the codec on, under the tests' fixed key. The histories recorded before it
 * (1-…, 2-…) hold plain payloads, which the worker's codec refuses (anyone can write one): they
 * replay through the decoder that reads plaintext, explicitly and only for them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeOptionalSinglePayload, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, type ReplayResult, Worker } from '@temporalio/worker';
import { DateTime } from 'luxon';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { legacyPlaintextDataConverter, payloadDataConverter } from '../../src/temporal/payload-codec';
import type { PaymentLinkWorkflowInput, ReminderPlan } from '../../workflows/payment-link/contract';
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
const INSTANTS = '7-precomputed-instants';
/** In INSTANTS, recorded on the workflow code from before its patch (test/record/pre-patch-histories.record.ts). */
const PRE_PATCH_PARIS = 'pre-patch-paris-dst-quiet-hours.json';
/** What INSTANTS added: Paris across a DST change (planned at create, by update), a start with no plan. */
const INSTANTS_PATHS = ['paris-dst-quiet-hours.json', 'paris-dst-updated.json', 'planned-by-activity.json'];

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

/** Recorded before the payload codec: plain payloads. */
const PLAINTEXT_VERSIONS = ['1-initial', '2-ledger-in-postgres'];
const isPlaintext = (workflowId: string) => PLAINTEXT_VERSIONS.some((v) => workflowId.startsWith(`${v}/`));

/**
 * `codec`: 'worker', the worker's own (plaintext refused) for the encrypted sets and the legacy
 * reader for the plain ones; 'strict', the worker's for every set; 'none', no codec at all.
 */
async function replayAll(
  workflowBundle: { code: string } | { codePath: string },
  { codec = 'worker', only }: { codec?: 'worker' | 'strict' | 'none'; only?: string } = {},
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const selected = histories().filter((h) => !only || h.workflowId.startsWith(`${only}/`));
  const groups =
    codec === 'worker'
      ? [
          {
            converter: legacyPlaintextDataConverter(TEST_CODEC_KEYS),
            of: selected.filter((h) => isPlaintext(h.workflowId)),
          },
          {
            converter: payloadDataConverter(TEST_CODEC_KEYS),
            of: selected.filter((h) => !isPlaintext(h.workflowId)),
          },
        ]
      : [{ converter: codec === 'strict' ? payloadDataConverter(TEST_CODEC_KEYS) : undefined, of: selected }];
  for (const { converter: dataConverter, of } of groups) {
    if (of.length === 0) continue;
    for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter }, of))
      results.push(result);
  }
  // In file order, whichever decoder replayed them.
  const order = selected.map((h) => h.workflowId);
  return results.sort((a, b) => order.indexOf(a.workflowId) - order.indexOf(b.workflowId));
}

describe('replay', () => {
  it('has recorded histories of the main paths for every version, and of what each version added', () => {
    expect(versions).toEqual(['1-initial', '2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN, FINAL, INSTANTS]);
    for (const version of versions) {
      expect(readdirSync(join(ROOT, version))).toEqual(expect.arrayContaining(MAIN_PATHS));
    }
    for (const version of ['2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN, FINAL, INSTANTS])
      expect(readdirSync(join(ROOT, version))).toEqual(
        expect.arrayContaining([
          'batched-payments.json',
          'data-errors.json',
          'document-settled-closed.json',
          'document-settled-payer.json',
        ]),
      );
    expect(readdirSync(join(ROOT, INSTANTS))).toEqual(
      expect.arrayContaining([...INSTANTS_PATHS, PRE_PATCH_PARIS]),
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
      { codec: 'none', only: ENCRYPTED },
    );
    expect(withoutCodec.length).toBeGreaterThan(0);
    for (const result of withoutCodec) expect(result.error, result.workflowId).toBeDefined();
  });

  it("the worker's own codec refuses the plain histories: only the legacy reader replays them", async () => {
    for (const version of PLAINTEXT_VERSIONS) {
      const strict = await replayAll(
        { codePath: inject('workflowBundlePath') },
        { codec: 'strict', only: version },
      );
      expect(strict.length, version).toBeGreaterThan(0);
      // The task's failure (its message encrypted by the failure converter): the decode refused.
      // The same histories replay with the legacy reader (above), so the codec is the difference.
      for (const result of strict)
        expect(result.error?.message, result.workflowId).toMatch(/Replay failed due workflow task failure/);
    }
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
    const lean = versions.filter((v) => v >= LEAN);
    for (const file of ['paid.json', 'multi-use-completed.json']) {
      for (const version of versions.filter((v) => !lean.includes(v))) {
        expect(patchesOf(version, file), `${version}/${file}`).not.toContain(PATCHES.leanLifecycle);
        expect(afterClosingPayment(version, file), `${version}/${file}`).toEqual(
          expect.arrayContaining(['EVENT_TYPE_TIMER_STARTED', 'EVENT_TYPE_TIMER_FIRED']),
        );
      }
      for (const version of lean) {
        expect(patchesOf(version, file), `${version}/${file}`).toContain(
          LEAN_VERSIONS[version] ?? PATCHES.leanLifecycle,
        );
        expect(afterClosingPayment(version, file), `${version}/${file}`).not.toContain(
          'EVENT_TYPE_TIMER_STARTED',
        );
      }
      expect(patchesOf(LEAN, file)).toEqual([PATCHES.leanLifecycle]);
      expect(patchesOf(FINAL, file)).toEqual([PATCHES.finalClose]);
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
      logger: quietLogger,
    });
    const results = await replayAll(drifted);
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect(result.error?.name, result.workflowId).toBe('DeterminismViolationError');
    }
  });
});

/**
 * `precomputed-instants`: a run's reminder instants are computed outside it and carried in its
 * history, so a change of zone rules on the host that replays it (a Node image with new ICU data,
 * a luxon release) cannot change what it decides. Runs from before the patch compute them in the
 * workflow (with the rules frozen in legacy/): on such a host their replay fails, here in a test.
 */
describe('replay across a change of zone rules', () => {
  const codec = loadDataConverter(payloadDataConverter(TEST_CODEC_KEYS));
  const events = (file: string) =>
    historyFromJSON(JSON.parse(readFileSync(join(ROOT, INSTANTS, file), 'utf8'))).events ?? [];
  const startInput = (file: string) =>
    decodeOptionalSinglePayload<PaymentLinkWorkflowInput>(
      codec,
      events(file)[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0],
    );

  it('new runs record the marker and carry a plan; the pre-patch run computes its own', async () => {
    for (const file of readdirSync(join(ROOT, INSTANTS)).filter((f) => f !== PRE_PATCH_PARIS))
      expect(patchesOf(INSTANTS, file), file).toEqual([PATCHES.leanLifecycle, PATCHES.precomputedInstants]);
    expect(patchesOf(INSTANTS, PRE_PATCH_PARIS)).toEqual([PATCHES.leanLifecycle]);
    expect((await startInput(PRE_PATCH_PARIS))?.reminderPlan).toBeUndefined();
    expect((await startInput('paris-dst-quiet-hours.json'))?.reminderPlan?.reminders).toHaveLength(1);
    // Planned by the API update and extension that set the reminder: each came with its plan.
    const updates = events('paris-dst-updated.json')
      .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input)
      .filter((input) => input && input.name !== 'linkCreated');
    expect(updates.map((u) => [u?.name, u?.args?.payloads?.length])).toEqual([
      ['extendExpiry', 2],
      ['updateLink', 2],
    ]);
  });

  /** The plan the API sent with the update that set the reminder in paris-dst-updated. */
  const updatePlan = (file: string) =>
    decodeOptionalSinglePayload<ReminderPlan>(
      codec,
      events(file)
        .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input)
        .find((input) => input?.name === 'updateLink')?.args?.payloads?.[1],
    );

  it('the Paris histories hold a reminder across a DST change, moved by quiet hours', async () => {
    const paris = 'Europe/Paris';
    const plans = {
      'paris-dst-quiet-hours.json': (await startInput('paris-dst-quiet-hours.json'))?.reminderPlan,
      'paris-dst-updated.json': await updatePlan('paris-dst-updated.json'),
    };
    const bases = {
      ...Object.fromEntries(Object.entries(plans).map(([file, plan]) => [file, plan?.basis])),
      [PRE_PATCH_PARIS]: (await startInput(PRE_PATCH_PARIS))?.terms,
    };
    for (const [file, basis] of Object.entries(bases)) {
      expect(basis?.timezone, file).toBe(paris);
      expect(basis?.quietHours, file).not.toBeNull();
      // The reminder (an offset in days back from the expiry) and the expiry straddle a change of
      // Paris's offset: counted in exact days, the reminder would fall an hour off.
      const expires = DateTime.fromISO(basis?.expiresAt ?? '', { zone: paris });
      const days = Number(basis?.reminders.beforeExpiry[0]?.slice(1, -1));
      const due = expires.minus({ days });
      expect(expires.offset, file).not.toBe(due.offset);
      expect(Math.abs(expires.toMillis() - days * 86_400_000 - due.toMillis()), file).toBe(3_600_000);
      const plan = plans[file as keyof typeof plans];
      if (!plan) continue; // the pre-patch run computed it in the workflow
      // Quiet hours moved it from its due time to the end of the window, a minute boundary.
      const [reminder] = plan.reminders;
      expect(Date.parse(reminder?.at ?? ''), file).toBeGreaterThan(due.toMillis());
      expect(DateTime.fromISO(reminder?.at ?? '', { zone: paris }).toFormat('HH:mm'), file).toBe(
        basis?.quietHours?.end,
      );
    }
  });

  it('with Europe/Paris rules drifted, new runs replay unchanged and the pre-patch run fails', async () => {
    // The same workflow on a host where Paris keeps UTC+01:00 all year (test/fixtures/drifted-zone-rules).
    const drifted = await bundleWorkflowCode({
      workflowsPath: join(PROJECT_ROOT, 'test/fixtures/drifted-zone-rules/index.ts'),
      failureConverterPath: payloadDataConverter(TEST_CODEC_KEYS).failureConverterPath,
      logger: quietLogger,
    });
    const results = await replayAll(drifted, { only: INSTANTS });
    const inInstants = files.filter((f) => f.startsWith(`${INSTANTS}/`));
    expect(results.map((r) => r.workflowId).sort()).toEqual(inInstants.map(idOf).sort());
    for (const result of results) {
      if (result.workflowId === idOf(join(INSTANTS, PRE_PATCH_PARIS)))
        expect(result.error?.name, result.workflowId).toBe('DeterminismViolationError');
      else expect(result.error, result.workflowId).toBeUndefined();
    }
  });
});
