/**
 * The client side of running campaigns: starts a campaign's workflow and asks it to pause,
 * resume or cancel, waiting each time until the workflow has acted and written the status, so
 * the answer read back from Postgres is already true.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  CAMPAIGN_WORKFLOW_TYPE,
  CampaignFailureTypes,
  type CampaignSettings,
  type CampaignWorkflowInput,
  campaignStartedUpdate,
  campaignWorkflowId,
  cancelCampaignUpdate,
  DEFAULT_CAMPAIGN_SETTINGS,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
} from '../../workflows/campaign/contract';
import type { campaignWorkflow } from '../../workflows/campaign/workflow';
import { SearchAttributes } from '../../workflows/payment-link/contract';
import type { AuthenticatedAccount } from '../accounts/accounts';
import { ApiError } from '../api/errors';
import { sendTimeFor, singleLinkStartAt, templateQuietHours, zoneOr } from './send-times';
import type { CampaignStore } from './store';
import { creationRate } from './throttle';
import type { CampaignRow } from './types';

export interface CampaignEngineDeps {
  temporal: Client;
  campaigns: CampaignStore;
  /** The task queue the worker serves (the links' one: campaigns run beside them). */
  taskQueue: string;
  settings?: Partial<CampaignSettings>;
  /** Bounds each call to Temporal when it does not answer. */
  rpcTimeoutMs?: number;
}

const campaignFinished = (row: CampaignRow) =>
  ApiError.conflict(`The campaign is ${row.status}`, 'campaign_finished');

/** A refused update as the API error it means; a workflow already gone means the campaign ended. */
function updateError(err: unknown, row: CampaignRow): ApiError {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    if (err.cause.type === CampaignFailureTypes.CampaignState)
      return ApiError.conflict(`The campaign cannot do that: ${err.cause.message}`, 'campaign_state');
  }
  if (err instanceof WorkflowNotFoundError || (err as { name?: string })?.name === 'WorkflowNotFoundError')
    return campaignFinished(row);
  throw err;
}

export function createCampaignEngine(deps: CampaignEngineDeps) {
  const { temporal, campaigns, taskQueue } = deps;
  const settings: CampaignSettings = { ...DEFAULT_CAMPAIGN_SETTINGS, ...deps.settings };
  const rpcTimeoutMs = deps.rpcTimeoutMs ?? 30_000;
  const bounded = <T>(fn: () => Promise<T>) =>
    temporal.connection.withDeadline(Date.now() + rpcTimeoutMs, fn);
  const handle = (campaignId: string) =>
    temporal.workflow.getHandle<typeof campaignWorkflow>(campaignWorkflowId(campaignId));

  async function load(account: AuthenticatedAccount, campaignId: string): Promise<CampaignRow> {
    const row = await campaigns.find(account.id, campaignId);
    if (!row) throw ApiError.notFound('campaign', campaignId);
    return row;
  }

  /** 400 when nobody could still be sent to: the schedule is in the past for every zone. */
  async function checkSchedule(account: AuthenticatedAccount, row: CampaignRow, startedAt: string) {
    const schedule = row.schedule;
    if (!schedule) return;
    if ('start_at' in schedule) {
      if (Date.parse(schedule.start_at) < Date.parse(startedAt))
        throw ApiError.invalid('schedule.start_at is in the past', 'schedule.start_at', 'schedule_in_past');
      return;
    }
    const zones =
      row.mode === 'single_link' ? [account.timezone] : await campaigns.distinctZones(account.id, row.id);
    const quietHours = row.mode === 'single_link' ? null : templateQuietHours(row.link);
    const anyone = zones.some(
      (zone) =>
        'sendAt' in sendTimeFor({ schedule, startedAt, zone: zoneOr(zone, account.timezone), quietHours }),
    );
    if (!anyone)
      throw ApiError.invalid(
        'schedule.send_at_local has passed in every recipient time zone',
        'schedule.send_at_local',
        'schedule_in_past',
      );
  }

  return {
    settings,

    /**
     * Starts a draft campaign. The workflow id is the campaign id and is never reused, so two
     * starts racing make one run (both answer it); once the run has written its status, a start
     * gets 409.
     */
    async start(account: AuthenticatedAccount, campaignId: string): Promise<CampaignRow> {
      const row = await load(account, campaignId);
      if (row.status !== 'draft')
        throw ApiError.conflict(
          `Only a draft campaign can be started; this one is ${row.status}`,
          'campaign_not_draft',
        );
      if (row.mode === 'per_recipient' && (await campaigns.countRecipients(account.id, row.id)) === 0)
        throw ApiError.conflict('The campaign has no recipients', 'campaign_has_no_recipients');
      const startedAt = new Date().toISOString();
      await checkSchedule(account, row, startedAt);

      const input: CampaignWorkflowInput = {
        campaignId: row.id,
        accountId: account.id,
        mode: row.mode,
        startedAt,
        ...(row.mode === 'single_link'
          ? { singleLinkAt: singleLinkStartAt(row.schedule, startedAt, account.timezone) }
          : {}),
        linksPerSecond: creationRate(row.throttle, row.link.channels ?? [], settings.defaultLinksPerSecond),
        settings,
      };
      try {
        await bounded(() =>
          temporal.workflow.start<typeof campaignWorkflow>(CAMPAIGN_WORKFLOW_TYPE, {
            workflowId: campaignWorkflowId(row.id),
            taskQueue,
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            staticSummary: `campaign ${row.name}`,
            typedSearchAttributes: [
              { key: SearchAttributes.AccountId, value: account.id },
              { key: SearchAttributes.CampaignId, value: row.id },
            ],
          }),
        );
      } catch (err) {
        // Started by an earlier attempt whose answer was lost (the row still says draft): the
        // retry waits for that run like the first attempt would have.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      await bounded(() => handle(row.id).executeUpdate(campaignStartedUpdate)).catch((err: unknown) => {
        throw updateError(err, row);
      });
      return load(account, campaignId);
    },

    /** Stops making links; resolves once no page is running and the status is `paused`. */
    async pause(account: AuthenticatedAccount, campaignId: string): Promise<CampaignRow> {
      const row = await load(account, campaignId);
      if (row.status === 'paused') return row;
      if (row.status === 'draft')
        throw ApiError.conflict('The campaign has not been started', 'campaign_not_started');
      if (row.status === 'completed' || row.status === 'cancelled') throw campaignFinished(row);
      if (row.mode === 'single_link')
        throw ApiError.conflict('A single-link campaign cannot be paused', 'campaign_state');
      await bounded(() => handle(row.id).executeUpdate(pauseCampaignUpdate)).catch((err: unknown) => {
        throw updateError(err, row);
      });
      return load(account, campaignId);
    },

    async resume(account: AuthenticatedAccount, campaignId: string): Promise<CampaignRow> {
      const row = await load(account, campaignId);
      if (row.status === 'scheduled' || row.status === 'running') return row;
      if (row.status === 'draft')
        throw ApiError.conflict('The campaign has not been started', 'campaign_not_started');
      if (row.status === 'completed' || row.status === 'cancelled') throw campaignFinished(row);
      await bounded(() => handle(row.id).executeUpdate(resumeCampaignUpdate)).catch((err: unknown) => {
        throw updateError(err, row);
      });
      return load(account, campaignId);
    },

    /**
     * Stops every further send; with `cancelLinks` the links already made are cancelled too (in
     * pages, after the answer). A draft is cancelled in place; cancelling twice answers the same.
     */
    async cancel(
      account: AuthenticatedAccount,
      campaignId: string,
      request: { cancelLinks: boolean },
    ): Promise<CampaignRow> {
      const row = await load(account, campaignId);
      if (row.status === 'cancelled') return row;
      if (row.status === 'completed') throw campaignFinished(row);
      try {
        await bounded(() => handle(row.id).executeUpdate(cancelCampaignUpdate, { args: [request] }));
      } catch (err) {
        // A draft has no workflow (unless a start is racing this cancel): cancelled in place.
        const notFound =
          err instanceof WorkflowNotFoundError ||
          (err as { name?: string })?.name === 'WorkflowNotFoundError';
        if (!(row.status === 'draft' && notFound && (await campaigns.cancelDraft(account.id, row.id))))
          throw updateError(err, row);
      }
      return load(account, campaignId);
    },
  };
}

export type CampaignEngine = ReturnType<typeof createCampaignEngine>;
