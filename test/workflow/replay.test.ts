/**
 * Determinism guard: every recorded history in test/fixtures/histories must replay against the
 * current workflow code. A change that would break running links fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, type ReplayResult, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { installQuietRuntime } from '../helpers/temporal';

// The drifted replays below warn about nondeterminism on purpose.
installQuietRuntime('ERROR');

const DIR = join(PROJECT_ROOT, 'test/fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const histories = () =>
  files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    // Raw JSON, as `temporal workflow show --output json` wrote it; the replayer parses it.
    history: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as unknown,
  }));

async function replayAll(workflowBundle: { code: string } | { codePath: string }): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories())) results.push(result);
  return results;
}

describe('replay', () => {
  it('has recorded histories of the main paths', () => {
    expect(files.sort()).toEqual([
      'continued-as-new-first-run.json',
      'continued-as-new-last-run.json',
      'expired-late-payment.json',
      'multi-use-completed.json',
      'paid.json',
      'partial-overpaid.json',
      'updated-cancelled.json',
    ]);
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = await replayAll({ codePath: inject('workflowBundlePath') });
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      files.map((f) => [f.replace(/\.json$/, ''), undefined]),
    );
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
