/**
 * What a run is asked from outside: its state, and the pause, resume and cancel updates. Each
 * update changes the run's state and resolves once the run has acted on it (stopped, resumed,
 * cancelled) and written the status, so the API's answer, read back from Postgres, is true.
 */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import {
  CampaignFailureTypes,
  campaignStartedUpdate,
  campaignStateQuery,
  cancelCampaignUpdate,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
} from './contract';
import { cancelRefusal, pauseRefusal, resumeRefusal } from './rules';
import type { CampaignRun } from './run';

const refuseIf = (message: string | undefined): void => {
  if (message !== undefined)
    throw ApplicationFailure.create({
      type: CampaignFailureTypes.CampaignState,
      message,
      nonRetryable: true,
    });
};

export function answerInbox(run: CampaignRun): void {
  const { state, pages } = run;
  setHandler(campaignStateQuery, run.view);
  setHandler(campaignStartedUpdate, async () => {
    await condition(() => state.status !== 'draft');
    return run.view();
  });
  setHandler(
    pauseCampaignUpdate,
    async () => {
      state.paused = true;
      await condition(
        () =>
          (state.status === 'paused' && pages.size === 0) ||
          !state.paused ||
          state.cancel !== null ||
          run.finished(),
      );
      return run.view();
    },
    { validator: () => refuseIf(pauseRefusal(state, run.input.mode)) },
  );
  setHandler(
    resumeCampaignUpdate,
    async () => {
      state.paused = false;
      await condition(() => state.status !== 'paused' || state.cancel !== null);
      return run.view();
    },
    { validator: () => refuseIf(resumeRefusal(state)) },
  );
  setHandler(
    cancelCampaignUpdate,
    async (request) => {
      state.cancel = { cancelLinks: request.cancelLinks || (state.cancel?.cancelLinks ?? false) };
      await condition(
        () => state.status === 'cancelled' && pages.size === 0 && state.pendingCancelled === true,
      );
      return run.view();
    },
    { validator: (_request) => refuseIf(cancelRefusal(state)) },
  );
}
