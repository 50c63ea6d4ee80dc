/**
 * Follows an HTTP request into Temporal: every workflow start, update and signal made while
 * serving a request carries its id as a `paylinks-request-id` header (in history: the started
 * event, the update's accepted request, the signal event), and a started workflow keeps it in its
 * memo as `request_id` (shown by `temporal workflow describe` and the UI).
 */
import {
  defaultPayloadConverter,
  type WorkflowClientInterceptor,
  type WorkflowSignalInput,
  type WorkflowStartInput,
  type WorkflowStartUpdateInput,
  type WorkflowStartUpdateWithStartInput,
} from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { currentRequest } from '../observability/request-context';

export const REQUEST_ID_TEMPORAL_HEADER = 'paylinks-request-id';
export const REQUEST_ID_MEMO = 'request_id';

function withRequestId<T extends { headers: Record<string, Payload> }>(input: T): T {
  const request = currentRequest();
  if (!request) return input;
  return {
    ...input,
    headers: {
      ...input.headers,
      [REQUEST_ID_TEMPORAL_HEADER]: defaultPayloadConverter.toPayload(request.requestId),
    },
  };
}

function startWithRequestId(input: WorkflowStartInput): WorkflowStartInput {
  const request = currentRequest();
  if (!request) return input;
  const withHeader = withRequestId(input);
  return {
    ...withHeader,
    options: { ...input.options, memo: { ...input.options.memo, [REQUEST_ID_MEMO]: request.requestId } },
  };
}

/** Update-with-start (a link's creation): the start and the update both carry it. */
function updateWithStartWithRequestId(
  input: WorkflowStartUpdateWithStartInput,
): WorkflowStartUpdateWithStartInput {
  const request = currentRequest();
  if (!request) return input;
  const header = { [REQUEST_ID_TEMPORAL_HEADER]: defaultPayloadConverter.toPayload(request.requestId) };
  return {
    ...input,
    workflowStartHeaders: { ...input.workflowStartHeaders, ...header },
    updateHeaders: { ...input.updateHeaders, ...header },
    workflowStartOptions: {
      ...input.workflowStartOptions,
      memo: { ...input.workflowStartOptions.memo, [REQUEST_ID_MEMO]: request.requestId },
    },
  };
}

export const requestIdInterceptor = (): WorkflowClientInterceptor => ({
  start: (input, next) => next(startWithRequestId(input)),
  startWithDetails: (input, next) => next(startWithRequestId(input)),
  startUpdate: (input: WorkflowStartUpdateInput, next) => next(withRequestId(input)),
  startUpdateWithStart: (input, next) => next(updateWithStartWithRequestId(input)),
  signal: (input: WorkflowSignalInput, next) => next(withRequestId(input)),
});

/** The request id a history event's header carries, if any. */
export function requestIdOfHeader(header: { fields?: Record<string, Payload> | null } | null | undefined) {
  const payload = header?.fields?.[REQUEST_ID_TEMPORAL_HEADER];
  return payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined;
}
