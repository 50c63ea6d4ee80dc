/**
 * Why an expiry was late, read from the link's workflow history: timer fired → workflow task →
 * recordChange (an activity, or a local activity inside the task) → the row.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { distribution, type ScaleBenchFigures } from './figures';
import { pool } from './proc';

const EventType = proto.temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

const ms = (e: HistoryEvent | undefined) =>
  e?.eventTime
    ? Number(e.eventTime.seconds ?? 0) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6)
    : Number.NaN;

interface Breakdown {
  timerFiredLate: number;
  /** Timer fired → the workflow task that closed the link started (sticky or not). */
  wftWait: number;
  wftRun: number;
  activityScheduleToStart: number;
  activityRun: number;
  /** Workflow tasks that timed out between the timer and the close (a sticky queue not polled in time). */
  wftTimeouts: number;
}

/**
 * The lean lifecycle runs `recordChange` as a local activity inside the workflow task that closes
 * the link: the expiry timer is the last TimerFired, and that task is the first one after it.
 */
function localBreakdownOf(events: HistoryEvent[], expiresAtMs: number): Breakdown | undefined {
  const firedAt = events.map((e) => e.eventType).lastIndexOf(EventType.EVENT_TYPE_TIMER_FIRED);
  if (firedAt < 0) return undefined;
  const rest = events.slice(firedAt);
  const startedAt = rest.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
  const completed = rest.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  return {
    timerFiredLate: ms(events[firedAt]) - expiresAtMs,
    wftWait: ms(rest[startedAt]) - ms(events[firedAt]),
    // The task includes the local recordChange: the row is written before it completes.
    wftRun: ms(completed) - ms(rest[startedAt]),
    activityScheduleToStart: Number.NaN,
    activityRun: Number.NaN,
    wftTimeouts: rest
      .slice(0, Math.max(startedAt, 0))
      .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length,
  };
}

/**
 * A link with no channels schedules `recordChange` only to close: the expiry timer is the last
 * TimerFired before it, the workflow task that closed the link is the one between.
 */
function breakdownOf(events: HistoryEvent[], expiresAtMs: number): Breakdown | undefined {
  const record = events.findIndex(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordChange',
  );
  if (record < 0) return localBreakdownOf(events, expiresAtMs);
  const before = events.slice(0, record);
  const lastIndex = (type: number) => before.map((e) => e.eventType).lastIndexOf(type);
  const firedAt = lastIndex(EventType.EVENT_TYPE_TIMER_FIRED);
  const fired = before[firedAt];
  const wftStarted = before[lastIndex(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)];
  const wftCompleted = before[lastIndex(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)];
  const scheduledId = events[record]?.eventId?.toString();
  const after = events.slice(record);
  const started = after.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
      e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduledId,
  );
  const completed = after.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
      e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === scheduledId,
  );
  return {
    timerFiredLate: ms(fired) - expiresAtMs,
    wftWait: ms(wftStarted) - ms(fired),
    wftRun: ms(wftCompleted) - ms(wftStarted),
    // The started event is written when the activity completes, with the time it was handed out.
    activityScheduleToStart: ms(started) - ms(events[record]),
    activityRun: ms(completed) - ms(started),
    wftTimeouts: before
      .slice(firedAt)
      .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length,
  };
}

/** Reads the histories of about `size` of the expired links, spread over them, and sums up why they were late. */
export async function sampleBreakdowns(
  client: Client,
  expiredRows: { id: string; expires_at: Date }[],
  size: number,
): Promise<ScaleBenchFigures['breakdown']> {
  const sample = expiredRows.filter((_, i) => i % Math.max(1, Math.floor(expiredRows.length / size)) === 0);
  const parts: Breakdown[] = [];
  await pool(sample.length, 16, async (i) => {
    const row = sample[i];
    if (!row) return;
    const history = await client.workflow.getHandle(row.id).fetchHistory();
    const b = breakdownOf(history.events ?? [], row.expires_at.getTime());
    if (b) parts.push(b);
  });
  return {
    sample: parts.length,
    timerFiredLateMs: distribution(parts.map((p) => p.timerFiredLate)),
    timerFiredToWorkflowTaskStartMs: distribution(parts.map((p) => p.wftWait)),
    withWorkflowTaskTimeout: parts.filter((p) => p.wftTimeouts > 0).length,
    workflowTaskRunMs: distribution(parts.map((p) => p.wftRun)),
    activityScheduleToStartMs: distribution(parts.map((p) => p.activityScheduleToStart)),
    activityRunMs: distribution(parts.map((p) => p.activityRun)),
  };
}
