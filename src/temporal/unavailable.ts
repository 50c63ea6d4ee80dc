/**
 * gRPC statuses of a Temporal server that cannot be reached or did not answer in time
 * (connection refused or lost, deadline exceeded, overloaded): a 503 worth retrying.
 */
const UNAVAILABLE_STATUSES = new Set<number>([
  14, // UNAVAILABLE
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
]);

/** The error, or one of its causes (the client wraps gRPC errors in a ServiceError), says so. */
export function isTemporalUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const { name, code, metadata, cause } = err as {
    name?: unknown;
    code?: unknown;
    metadata?: unknown;
    cause?: unknown;
  };
  // An update whose RPC hit its deadline before the server answered.
  if (name === 'WorkflowUpdateRPCTimeoutOrCancelledError') return true;
  // A gRPC status error carries a numeric code and the call's metadata.
  if (typeof code === 'number' && metadata !== undefined && UNAVAILABLE_STATUSES.has(code)) return true;
  return isTemporalUnavailable(cause, depth + 1);
}
