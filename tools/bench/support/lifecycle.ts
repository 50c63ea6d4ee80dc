/**
 * The canonical lifecycle's Temporal footprint, from a real history:
 * created → sent by email and SMS → one reminder (both channels) → paid in full.
 *
 * Counts billable actions by Temporal Cloud's rules (one per: workflow start, timer started,
 * search-attribute upsert other than the SDK's own `TemporalChangeVersion`, signal, accepted
 * update, activity attempt, and the local activities of one workflow task together). Used by
 * `npm run bench:history` (which prints every event) and `npm run bench` (the totals).
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createAccount } from '../../../src/accounts/accounts';
import { createCommerceStores } from '../../../src/commerce/stores';
import { DEVELOPMENT_PAYLOAD_CODEC_KEYS } from '../../../src/config';
import { createDb } from '../../../src/db/knex';
import { startDevPeers } from '../../../src/dev/peers';
import { CreatePaymentLinkSchema } from '../../../src/links/create-link';
import { createLinkService } from '../../../src/links/link-service';
import { createLinkStore } from '../../../src/links/link-store';
import { createLogger } from '../../../src/logger';
import {
  AesGcmPayloadCodec,
  parseCodecKeys,
  payloadDataConverter,
} from '../../../src/temporal/payload-codec';
import { localChannels, type RunningWorker, startLocalWorker } from '../../../test/helpers/local-worker';
import { DEFAULT_LIFECYCLE_SETTINGS, paymentReceivedSignal } from '../../../workflows/payment-link/contract';

const { temporal } = proto;
const CODEC_KEYS = parseCodecKeys(DEVELOPMENT_PAYLOAD_CODEC_KEYS);
const codec = new AesGcmPayloadCodec(CODEC_KEYS);
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** The SDK's version bookkeeping (a patch's marker comes with it): not billed. */
const onlyChangeVersion = (e: HistoryEvent): boolean => {
  const keys = Object.keys(
    e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
  );
  return keys.length > 0 && keys.every((k) => k === 'TemporalChangeVersion');
};

/**
 * Temporal Cloud's action rules, applied to one history event. `task` is the workflow task
 * completion an event follows: "All Local Activities associated with one Workflow Task count as a
 * single Action" (docs.temporal.io/cloud/actions), so only a task's first marker counts.
 */
function actionsOf(event: HistoryEvent, task: number, tasksWithLocalActivities: Set<number>): number {
  switch (event.eventType) {
    case EventType.EVENT_TYPE_MARKER_RECORDED:
      if (event.markerRecordedEventAttributes?.markerName !== LOCAL_ACTIVITY_MARKER) return 0;
      if (tasksWithLocalActivities.has(task)) return 0;
      tasksWithLocalActivities.add(task);
      return 1;
    case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
      return onlyChangeVersion(event) ? 0 : 1;
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
    case EventType.EVENT_TYPE_TIMER_STARTED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
      return 1;
    case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
      return event.activityTaskStartedEventAttributes?.attempt ?? 1; // each attempt is one
    default:
      return 0;
  }
}

const name = (e: HistoryEvent) => (EventType[e.eventType ?? 0] ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');

function detail(e: HistoryEvent): string {
  const scheduled = e.activityTaskScheduledEventAttributes;
  if (scheduled) {
    // The history holds encrypted payloads: decrypt to show what was sent.
    const input = scheduled.input?.payloads?.[0];
    const arg = input ? JSON.parse(Buffer.from(codec.decrypt(input).data ?? []).toString()) : undefined;
    return `${scheduled.activityType?.name}${arg?.channel ? ` (${arg.kind}, ${arg.channel})` : ''}`;
  }
  if (e.timerStartedEventAttributes) {
    const s = e.timerStartedEventAttributes.startToFireTimeout?.seconds;
    return `timer ${s ?? 0}s`;
  }
  if (e.workflowExecutionUpdateAcceptedEventAttributes) {
    return String(e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input?.name);
  }
  if (e.workflowExecutionSignaledEventAttributes)
    return String(e.workflowExecutionSignaledEventAttributes.signalName);
  const marker = e.markerRecordedEventAttributes;
  if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
    const data = marker.details?.data?.payloads?.[0]?.data;
    const type = data
      ? (JSON.parse(Buffer.from(data).toString()) as { activity_type?: string }).activity_type
      : '';
    return `local activity ${type ?? ''}`;
  }
  if (marker) return String(marker.markerName);
  if (e.upsertWorkflowSearchAttributesEventAttributes)
    return Object.keys(
      e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {},
    ).join(', ');
  return '';
}

export interface LifecycleHistory {
  historyEvents: number;
  billableActions: number;
  /** Every event in order: its id, type, what it is, and its actions. */
  events: { id: number; type: string; detail: string; actions: number }[];
  byType: { type: string; events: number; actions: number }[];
}

/**
 * Runs the canonical lifecycle on `address` (a Temporal server) and `databaseUrl` (a migrated
 * database), with a worker of its own on a task queue of its own, and counts its history.
 * The caller installs the Temporal runtime.
 */
export async function measureLifecycleHistory(opts: {
  address: string;
  databaseUrl: string;
}): Promise<LifecycleHistory> {
  const { address } = opts;
  const logger = createLogger('silent');
  const db = createDb(opts.databaseUrl);
  // As the engine runs: every payload encrypted.
  const dataConverter = payloadDataConverter(CODEC_KEYS);
  const taskQueue = `bench-history-${randomBytes(4).toString('hex')}`;
  const peers = await startDevPeers();
  const publicBaseUrl = 'http://localhost:3000';
  const channels = localChannels(peers, publicBaseUrl);
  let worker: RunningWorker | undefined;
  let client: Client | undefined;
  try {
    worker = await startLocalWorker({
      address,
      db,
      taskQueue,
      channels: { email: channels.email, sms: channels.sms, publicBaseUrl },
      dataConverter,
    });
    client = new Client({ connection: await Connection.connect({ address }), dataConverter });

    const account = await createAccount(db, 'Bench shop');
    const links = createLinkStore(db);
    const service = createLinkService({
      temporal: client,
      links,
      taskQueue,
      // A short late-payment window: the event count does not depend on its length.
      // A short late-payment window (runs before `lean-lifecycle` only).
      settings: { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1000 },
      createWaitMs: 10_000,
      logger,
      commerce: createCommerceStores(db),
    });
    const row = await service.create(
      { id: account.accountId, name: 'Bench shop', timezone: 'UTC' },
      CreatePaymentLinkSchema.parse({
        amount: 1999,
        currency: 'USD',
        customer: { name: 'Ada', email: 'ada@example.com', phone: '+14155550123' },
        channels: ['email', 'sms'],
        quiet_hours: null,
        reminders: { after_created: ['PT2S'] },
      }),
    );
    const handle = client.workflow.getHandle(row.id);
    for (;;) {
      const events = await links.listEvents(account.accountId, row.id);
      if (events.filter((e) => e.type === 'payment_link.reminded').length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.signal(paymentReceivedSignal, {
      provider: 'sandbox',
      paymentId: 'pi_bench',
      amount: 1999,
      currency: 'USD',
    });
    await handle.result();

    const history = (await handle.fetchHistory()).events ?? [];
    const byType = new Map<string, { events: number; actions: number }>();
    let task = 0;
    const tasksWithLocalActivities = new Set<number>();
    const events = history.map((e) => {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) task = Number(e.eventId);
      const a = actionsOf(e, task, tasksWithLocalActivities);
      const type = name(e);
      const entry = byType.get(type) ?? { events: 0, actions: 0 };
      byType.set(type, { events: entry.events + 1, actions: entry.actions + a });
      return { id: Number(e.eventId ?? 0), type, detail: detail(e), actions: a };
    });
    return {
      historyEvents: events.length,
      billableActions: events.reduce((n, e) => n + e.actions, 0),
      events,
      byType: [...byType.entries()].map(([type, c]) => ({ type, ...c })).sort((x, y) => y.events - x.events),
    };
  } finally {
    await worker?.stop();
    await client?.connection.close();
    await db.destroy();
    channels.close();
    await peers.stop();
  }
}
