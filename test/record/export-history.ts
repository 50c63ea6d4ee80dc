/** Histories as the recorders keep them (test/fixtures/…histories/). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';

/** The history as the Temporal CLI exports it: the JSON format `historyFromJSON` reads. */
export async function exportHistory(workflowId: string, runId: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    inject('temporalCliPath'),
    [
      'workflow',
      'show',
      '--address',
      inject('temporalAddress'),
      '--workflow-id',
      workflowId,
      '--run-id',
      runId,
      '--output',
      'json',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}
