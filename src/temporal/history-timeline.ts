/**
 * A workflow history as sentences an operator reads: what happened, when, which attempt failed
 * and why. Workflow-task bookkeeping is left out; everything the link did is in.
 */
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { requestIdOfHeader } from './request-id-interceptor';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Failure = proto.temporal.api.failure.v1.IFailure;

/** Turns a payload into a value (the client's data converter, codec included); undefined if it cannot. */
export type DecodePayload = (payload: Payload | null | undefined) => Promise<unknown>;

export interface TimelineLine {
  at: Date | undefined;
  eventId: number;
  text: string;
}

const { EventType } = proto.temporal.api.enums.v1;

/** The marker the SDK records for a local activity's outcome. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

const timeOf = (event: HistoryEvent): Date | undefined => {
  const t = event.eventTime;
  if (!t) return undefined;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
};

const durationText = (d: { seconds?: unknown; nanos?: number | null } | null | undefined): string => {
  const ms = Number(d?.seconds ?? 0) * 1000 + Math.floor((d?.nanos ?? 0) / 1e6);
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
};

/** "NotificationFailed: mailbox full", following causes (an activity failure wraps the real one). */
function failureText(failure: Failure | null | undefined): string {
  if (!failure) return 'no reason given';
  const inner = failure.cause ? failureText(failure.cause) : undefined;
  const type = failure.applicationFailureInfo?.type;
  const own = `${type ? `${type}: ` : ''}${failure.message ?? ''}`.trim();
  if (failure.activityFailureInfo && inner) return inner;
  return inner && own ? `${own} (${inner})` : own || inner || 'no reason given';
}

const short = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Our activities' answers in words: "created", "sent", "1 recorded, 0 duplicate". */
function resultText(result: unknown): string {
  const r = result as { outcome?: unknown; results?: { outcome?: string }[] };
  if (Array.isArray(r?.results)) {
    const recorded = r.results.filter((x) => x.outcome === 'recorded').length;
    return `${recorded} recorded, ${r.results.length - recorded} duplicate`;
  }
  if (typeof r?.outcome === 'string') return r.outcome;
  return short(result);
}

/** The sentences of a history, in order. */
export async function historyTimeline(
  events: readonly HistoryEvent[],
  decode: DecodePayload,
): Promise<TimelineLine[]> {
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);

  const summaryOf = async (e: HistoryEvent | undefined): Promise<string | undefined> => {
    const s = e?.userMetadata?.summary;
    if (!s) return undefined;
    const v = await decode(s);
    return typeof v === 'string' ? v : undefined;
  };
  /** "activity notifyCustomer (email link to a•••@example.com)" */
  const activityName = async (scheduledId: unknown): Promise<string> => {
    const scheduled = byId.get(Number(scheduledId));
    const type = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
    const summary = await summaryOf(scheduled);
    return summary ? `${type} (${summary})` : type;
  };
  const timerName = async (startedId: unknown): Promise<string> =>
    (await summaryOf(byId.get(Number(startedId)))) ?? 'timer';
  const firstOf = async (payloads: { payloads?: Payload[] | null } | null | undefined) =>
    payloads?.payloads?.[0] ? decode(payloads.payloads[0]) : undefined;
  const requestNote = (header: Parameters<typeof requestIdOfHeader>[0]) => {
    const id = requestIdOfHeader(header);
    return id ? ` [request ${id}]` : '';
  };

  /**
   * A local activity: run by the worker inside a workflow task, recorded as one marker once it
   * has an outcome (its attempts happen in the worker; the marker says how many there were).
   */
  async function localActivitySentence(e: HistoryEvent): Promise<string> {
    const a = e.markerRecordedEventAttributes;
    const data = (await firstOf(a?.details?.data)) as
      | { activity_type?: string; attempt?: number }
      | undefined;
    const type = data?.activity_type ?? 'local activity';
    const summary = await summaryOf(e);
    const name = summary ? `${type} (${summary})` : type;
    const attempts = data?.attempt ?? 1;
    const after = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (a?.failure) return `${name} failed in the workflow task${after}: ${failureText(a.failure)}`;
    const result = await firstOf(a?.details?.result);
    return `${name} completed in the workflow task${after}${result === undefined || result === null ? '' : `: ${resultText(result)}`}`;
  }

  const lines: TimelineLine[] = [];
  for (const e of events) {
    const text = await sentence(e);
    if (text) lines.push({ at: timeOf(e), eventId: Number(e.eventId), text });
  }
  return lines;

  async function sentence(e: HistoryEvent): Promise<string | undefined> {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const a = e.workflowExecutionStartedEventAttributes;
        const summary = await summaryOf(e);
        const resumed = a?.continuedExecutionRunId ? ' (continued from an earlier run)' : '';
        return `Workflow ${a?.workflowType?.name ?? ''} started on task queue ${a?.taskQueue?.name ?? '?'}${resumed}${summary ? `: ${summary}` : ''}${requestNote(a?.header)}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = e.activityTaskScheduledEventAttributes;
        const summary = await summaryOf(e);
        return `Scheduled ${a?.activityType?.name ?? 'activity'}${summary ? `: ${summary}` : ''}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        const attempt = a?.attempt ?? 1;
        if (attempt <= 1) return undefined; // the first start says nothing the schedule did not
        const name = await activityName(a?.scheduledEventId);
        return `${name}: attempt ${attempt} started; attempt ${attempt - 1} had failed: ${failureText(a?.lastFailure)}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const a = e.activityTaskCompletedEventAttributes;
        const result = await firstOf(a?.result);
        const name = await activityName(a?.scheduledEventId);
        return `${name} completed${result === undefined || result === null ? '' : `: ${resultText(result)}`}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const a = e.activityTaskFailedEventAttributes;
        const started = byId.get(Number(a?.startedEventId))?.activityTaskStartedEventAttributes;
        const attempts = started?.attempt ?? 1;
        return `${await activityName(a?.scheduledEventId)} failed for good after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${failureText(a?.failure)}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const a = e.activityTaskTimedOutEventAttributes;
        return `${await activityName(a?.scheduledEventId)} timed out: ${failureText(a?.failure)}`;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
        return `${await activityName(e.activityTaskCancelRequestedEventAttributes?.scheduledEventId)}: cancel requested (no longer needed)`;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        return undefined; // said by the cancel request
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const a = e.timerStartedEventAttributes;
        const summary = await summaryOf(e);
        return `Waiting ${durationText(a?.startToFireTimeout)} for ${summary ?? 'a timer'}`;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
        return `Timer for ${await timerName(e.timerFiredEventAttributes?.startedEventId)} fired`;
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        return `Stopped waiting for ${await timerName(e.timerCanceledEventAttributes?.startedEventId)} (something else happened first)`;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const a = e.workflowExecutionSignaledEventAttributes;
        const input = await firstOf(a?.input);
        const payment = input as { amount?: number; currency?: string; provider?: string } | undefined;
        const detail =
          a?.signalName === 'paymentReceived' && payment?.amount !== undefined
            ? `: ${payment.amount} ${payment.currency ?? ''} via ${payment.provider ?? '?'}`
            : '';
        return `Signal ${a?.signalName} received${detail}${requestNote(a?.header)}`;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const a = e.workflowExecutionUpdateAcceptedEventAttributes;
        const request = a?.acceptedRequest;
        return `Update ${request?.input?.name ?? '?'} accepted${requestNote(request?.input?.header)}`;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const a = e.workflowExecutionUpdateCompletedEventAttributes;
        const accepted = byId.get(Number(a?.acceptedEventId))?.workflowExecutionUpdateAcceptedEventAttributes;
        const name = accepted?.acceptedRequest?.input?.name ?? 'update';
        const failure = a?.outcome?.failure;
        return failure ? `Update ${name} refused: ${failureText(failure)}` : `Update ${name} completed`;
      }
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        // The SDK's own version bookkeeping: said by the marker already.
        const own = Object.entries(fields).filter(([k]) => k !== 'TemporalChangeVersion');
        if (own.length === 0) return undefined;
        const parts = await Promise.all(
          own.map(async ([k, v]) => `${k}=${short((await decode(v)) ?? '(cleared)')}`),
        );
        return `Search attributes set: ${parts.join(', ')}`;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const a = e.markerRecordedEventAttributes;
        if (a?.markerName === 'core_patch') {
          const id = await firstOf(a.details?.['patch-data']);
          const patchId = (id as { id?: string } | undefined)?.id;
          return `Runs workflow version ${patchId ?? '(a patch)'}`;
        }
        if (a?.markerName === LOCAL_ACTIVITY_MARKER) return localActivitySentence(e);
        return `Marker ${a?.markerName}`;
      }
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: {
        const a = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
        return `Signalled link ${a?.workflowExecution?.workflowId} (${a?.signalName})`;
      }
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
        return `Could not signal link ${e.signalExternalWorkflowExecutionFailedEventAttributes?.workflowExecution?.workflowId}`;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: {
        const a = e.workflowTaskFailedEventAttributes;
        return `Workflow task failed (the worker will retry it): ${failureText(a?.failure)}`;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        const result = await firstOf(e.workflowExecutionCompletedEventAttributes?.result);
        const r = result as { status?: string; amountPaid?: number; paymentsCount?: number } | undefined;
        return r?.status
          ? `Workflow completed: the link ended ${r.status}${r.amountPaid !== undefined ? `, ${r.amountPaid} paid in ${r.paymentsCount ?? 0} payment(s)` : ''}`
          : 'Workflow completed';
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return `Workflow failed: ${failureText(e.workflowExecutionFailedEventAttributes?.failure)}`;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        return `Continued as a new run ${e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? ''} (history kept short)`;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        return `Workflow terminated: ${e.workflowExecutionTerminatedEventAttributes?.reason ?? 'no reason given'}`;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        return 'Cancellation of the workflow requested';
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        return 'Workflow timed out';
      default:
        return undefined; // workflow-task scheduling and other bookkeeping
    }
  }
}

/** "2026-11-24 05:30:01.123  #5  Scheduled persistLink: store the link" */
export const formatTimeline = (lines: TimelineLine[]): string =>
  lines
    .map(
      (l) =>
        `${l.at ? l.at.toISOString().replace('T', ' ').replace('Z', '') : '?'}  #${String(l.eventId).padEnd(4)} ${l.text}`,
    )
    .join('\n');
