import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../workflows/payment-link/contract';
import { ApiError } from '../api/errors';

/**
 * A rejected update as an HTTP answer: the state forbids it (409 once terminal, 422 otherwise)
 * or the change itself is invalid (400). A link whose workflow has finished is closed: 409.
 */
export function updateFailureToApiError(
  err: unknown,
  closedStatus: () => Promise<string>,
): Promise<ApiError> | ApiError {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const { type, message, details } = err.cause;
    if (type === FailureTypes.LinkTerminal)
      return ApiError.conflict(`The payment link cannot be changed: ${message}`, 'link_closed');
    if (type === FailureTypes.InvalidChange)
      return ApiError.invalid(message, details?.[0] as string | undefined);
    if (type === FailureTypes.ChannelUnavailable)
      return ApiError.unprocessable(message, 'channel_unavailable');
  }
  if (err instanceof WorkflowNotFoundError || (err as { name?: string })?.name === 'WorkflowNotFoundError') {
    return closedStatus().then((status) =>
      ApiError.conflict(`The payment link cannot be changed: the payment link is ${status}`, 'link_closed'),
    );
  }
  throw err;
}
