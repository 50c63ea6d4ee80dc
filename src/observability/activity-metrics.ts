/**
 * Counts what the worker's activities did, from their inputs and results, without touching the
 * activities themselves. An activity that completed but whose completion was lost runs again and
 * is counted again: rare, and the price of counting where the work happens.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { NotifyCustomerInput, NotifyOutcome } from '../../activities/notifications';
import { isTerminal, type LinkStatus, type PersistOutcome } from '../../workflows/payment-link/contract';
import type { LinkChange } from '../links/link-store';
import type { PaymentsRecorded, RecordPaymentsInput } from '../payments/record-payment';
import { linksClosed, linksCreated, messages, payments, webhookDeliveries } from './metrics';

function countResult(activityType: string, args: unknown[], result: unknown): void {
  switch (activityType) {
    case 'persistLink':
      if ((result as PersistOutcome).outcome === 'created') linksCreated.inc();
      return;
    case 'recordChange': {
      const status = (args[0] as LinkChange).patch?.status as LinkStatus | undefined;
      if (status && isTerminal(status)) linksClosed.inc({ status });
      return;
    }
    case 'recordPayments': {
      const input = args[0] as RecordPaymentsInput;
      let status = input.before.status;
      for (const r of (result as PaymentsRecorded).results) {
        if (r.outcome === 'duplicate') {
          payments.inc({ outcome: 'duplicate' });
          continue;
        }
        payments.inc({ outcome: r.decision.recordAs });
        if (!isTerminal(status) && isTerminal(r.decision.status))
          linksClosed.inc({ status: r.decision.status });
        status = r.decision.status;
      }
      return;
    }
    case 'notifyCustomer':
      messages.inc({ channel: (args[0] as NotifyCustomerInput).channel, outcome: result as NotifyOutcome });
      return;
    case 'deliverWebhook':
      webhookDeliveries.inc({ outcome: result as string });
      return;
  }
}

function countFailure(activityType: string, args: unknown[], err: unknown): void {
  if (activityType === 'notifyCustomer') {
    const final = err instanceof ApplicationFailure && err.nonRetryable;
    messages.inc({ channel: (args[0] as NotifyCustomerInput).channel, outcome: final ? 'failed' : 'retry' });
  } else if (activityType === 'deliverWebhook') webhookDeliveries.inc({ outcome: 'failed' });
}

class ActivityMetrics implements ActivityInboundCallsInterceptor {
  constructor(private readonly activityType: string) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
    try {
      const result = await next(input);
      countResult(this.activityType, input.args, result);
      return result;
    } catch (err) {
      countFailure(this.activityType, input.args, err);
      throw err;
    }
  }
}

/** For `Worker.create({ interceptors: { activity: [activityMetrics] } })`. */
export const activityMetrics = (ctx: { info: { activityType: string } }) => ({
  inbound: new ActivityMetrics(ctx.info.activityType),
});
