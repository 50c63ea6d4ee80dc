/**
 * Determinism guard for the campaign workflow: every history recorded in
 * test/fixtures/campaign-histories/<n>-<name>/ must replay against the current code. A change to
 * the commands a campaign run issues, unversioned, fails here. The payment link's histories are
 * guarded apart (replay.test.ts), in their own folder.
 *
 * Replays run through the payload codec as the worker does: the sets were recorded with it on,
 * under the tests' fixed key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, type ReplayResult, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { payloadDataConverter } from '../../src/temporal/payload-codec';
import { installQuietRuntime, TEST_CODEC_KEYS } from '../helpers/temporal';

// The drifted replays below warn about nondeterminism on purpose.
installQuietRuntime('ERROR');

/** One folder per campaign workflow version, oldest first; each holds the histories recorded on it. */
const ROOT = join(PROJECT_ROOT, 'test/fixtures/campaign-histories');
const versions = readdirSync(ROOT).sort();
const files = versions.flatMap((version) =>
  readdirSync(join(ROOT, version))
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(version, f)),
);
const idOf = (file: string) => file.replace(/\.json$/, '');
const read = (file: string) =>
  JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { events: { eventType: string }[] };

/** The paths every version records (a run that continued as new: `<name>-run-<k>.json`, each run). */
const MAIN_PATHS = [
  'per-recipient-completed-run-1.json',
  'per-recipient-completed-run-2.json',
  'paused-resumed-completed.json',
  'cancelled-with-links.json',
  'single-link-cancelled.json',
  'send-at-local-cancelled-waiting.json',
  'start-at-cancelled-waiting.json',
];

async function replayAll(workflowBundle: { code: string } | { codePath: string }): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const dataConverter = payloadDataConverter(TEST_CODEC_KEYS);
  const histories = files.map((file) => ({
    workflowId: idOf(file),
    // Raw JSON, as `temporal workflow show --output json` wrote it; the replayer parses it.
    history: JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as unknown,
  }));
  for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter }, histories))
    results.push(result);
  return results;
}

describe('campaign replay', () => {
  it('has recorded histories of the main paths for every version', () => {
    expect(versions).toEqual(['1-initial']);
    for (const version of versions)
      expect(readdirSync(join(ROOT, version))).toEqual(expect.arrayContaining(MAIN_PATHS));
    // What the files are said to hold: a chain of runs, a pause and a resume, waits cancelled.
    const types = (file: string) => read(file).events.map((e) => e.eventType.replace('EVENT_TYPE_', ''));
    for (const version of versions) {
      const runs = files.filter((f) => f.startsWith(`${version}/per-recipient-completed-run-`)).sort();
      for (const run of runs.slice(0, -1))
        expect(types(run).at(-1), run).toBe('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
      expect(types(runs.at(-1) as string).at(-1)).toBe('WORKFLOW_EXECUTION_COMPLETED');
      for (const waiting of ['send-at-local-cancelled-waiting', 'start-at-cancelled-waiting'])
        expect(types(`${version}/${waiting}.json`)).toEqual(
          expect.arrayContaining(['TIMER_STARTED', 'TIMER_CANCELED', 'WORKFLOW_EXECUTION_COMPLETED']),
        );
    }
  });

  it('holds encrypted payloads: no recipient data in clear', () => {
    for (const file of files) {
      const raw = readFileSync(join(ROOT, file), 'utf8');
      expect(raw, file).not.toMatch(/person\d+@example\.com/);
      expect(raw, file).toContain(Buffer.from('binary/encrypted').toString('base64'));
    }
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = await replayAll({ codePath: inject('workflowBundlePath') });
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      files.map((f) => [idOf(f), undefined]),
    );
  });

  it('fails for a nondeterministic change (the guard is real)', async () => {
    const drifted = await bundleWorkflowCode({
      workflowsPath: join(PROJECT_ROOT, 'test/fixtures/drifted-workflow/campaign.ts'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    const results = await replayAll(drifted);
    expect(results).toHaveLength(files.length);
    for (const result of results) {
      expect(result.error?.name, result.workflowId).toBe('DeterminismViolationError');
    }
  });
});
