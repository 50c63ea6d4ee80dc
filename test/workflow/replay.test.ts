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
import { bundleWorkflowCode, type ReplayResult, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { legacyPlaintextDataConverter, payloadDataConverter } from '../../src/temporal/payload-codec';
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
const historyEvents = (version: string, file: string): RecordedEvent[] =>
  (JSON.parse(readFileSync(join(ROOT, version, file), 'utf8')) as { events: RecordedEvent[] }).events;

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
    expect(versions).toEqual(['1-initial', '2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN]);
    for (const version of versions) {
      expect(readdirSync(join(ROOT, version))).toEqual(expect.arrayContaining(MAIN_PATHS));
    }
    for (const version of ['2-ledger-in-postgres', ENCRYPTED, OUTBOX, LEAN])
      expect(readdirSync(join(ROOT, version))).toEqual(
        expect.arrayContaining([
          'batched-payments.json',
          'data-errors.json',
          'document-settled-closed.json',
          'document-settled-payer.json',
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
    const patchesOf = (version: string, file: string) =>
      historyEvents(version, file)
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? '')
        .map((data) => JSON.parse(Buffer.from(data, 'base64').toString()).id as string);
    for (const file of ['paid.json', 'multi-use-completed.json']) {
      for (const version of versions.filter((v) => v !== LEAN)) {
        expect(patchesOf(version, file), `${version}/${file}`).not.toContain(PATCHES.leanLifecycle);
        expect(afterClosingPayment(version, file), `${version}/${file}`).toEqual(
          expect.arrayContaining(['EVENT_TYPE_TIMER_STARTED', 'EVENT_TYPE_TIMER_FIRED']),
        );
      }
      expect(patchesOf(LEAN, file)).toEqual([PATCHES.leanLifecycle]);
      expect(afterClosingPayment(LEAN, file)).not.toContain('EVENT_TYPE_TIMER_STARTED');
    }
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
