/**
 * The provider-event reconciler runs as a Temporal Schedule: one pass every `intervalMs`, on the
 * link workflows' task queue, never two at once. Created at start-up by whichever process runs
 * the worker; creating it again (another worker, a restart, a new interval) updates it in place.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { ReconcileOptions } from '../payments/reconcile-events';
import { isTemporalUnavailable } from '../temporal/unavailable';

/** A dev server just started, or a busy one, may miss the RPC deadline once or twice. */
const ATTEMPTS = 8;

export interface ReconcilerScheduleOptions {
  taskQueue: string;
  /** Time between passes. */
  intervalMs: number;
  /** How old an unprocessed event must be before a pass applies it. */
  graceMs: number;
  /** Events per pass. */
  limit?: number;
}

export const reconcilerScheduleId = (taskQueue: string) => `paylinks-reconciler-${taskQueue}`;

export async function ensureReconcilerSchedule(client: Client, options: ReconcilerScheduleOptions) {
  const scheduleId = reconcilerScheduleId(options.taskQueue);
  const args: [ReconcileOptions] = [{ graceMs: options.graceMs, limit: options.limit ?? 200 }];
  const spec = { intervals: [{ every: options.intervalMs }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'reconcileProviderEventsWorkflow',
    workflowId: `reconcile-provider-events-${options.taskQueue}`,
    taskQueue: options.taskQueue,
    args,
  };
  const policies = {
    overlap: ScheduleOverlapPolicy.SKIP,
    // Passes missed while the server was down are not run one after another: the next one does it all.
    catchupWindow: Math.max(options.intervalMs, 1000),
  };
  const createOrUpdate = async () => {
    try {
      await client.schedule.create({ scheduleId, spec, action, policies });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule
        .getHandle(scheduleId)
        .update((previous) => ({ ...previous, spec, action, policies }));
    }
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await createOrUpdate();
      return client.schedule.getHandle(scheduleId);
    } catch (err) {
      if (attempt >= ATTEMPTS || !isTemporalUnavailable(err)) throw err;
      await delay(Math.min(250 * 2 ** attempt, 5_000));
    }
  }
}
