/**
 * One pass of the provider-event reconciler, started by its Temporal Schedule
 * (src/reconciler/schedule.ts): the work is the activity's; the workflow gives it retries and a
 * record in Temporal of what each pass did.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReconcilerActivities } from '../../activities/reconciler';
import type { ReconcileOptions, ReconcileSummary } from '../../src/payments/reconcile-events';

const { reconcileProviderEvents } = proxyActivities<ReconcilerActivities>({
  startToCloseTimeout: '2 minutes',
  // The next scheduled pass picks up whatever this one could not.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

export async function reconcileProviderEventsWorkflow(options: ReconcileOptions): Promise<ReconcileSummary> {
  return reconcileProviderEvents(options);
}
