import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TemporalConnectionOptions } from './connection-options';
import { requestIdInterceptor } from './request-id-interceptor';

/** How long the API's calls to Temporal may take before they fail (and the request answers 503). */
export interface RpcTimeouts {
  /** Calls the server answers by itself: start, signal, describe, cancel. */
  rpcMs: number;
  /** Calls that wait on a worker (updates, queries): a workflow task must run first. */
  workerMs: number;
}

/** Long polls that wait on a worker, by gRPC method. */
const WAITS_ON_WORKER = new Set(['UpdateWorkflowExecution', 'PollWorkflowExecutionUpdate', 'QueryWorkflow']);
/** Waits for a workflow's next event (a result), as long as the caller chooses: never bounded here. */
const UNBOUNDED = new Set(['GetWorkflowExecutionHistory']);

/**
 * Every call without a deadline of its own gets one. Without it, a server that accepts
 * connections and never answers holds the request until gRPC's keepalive gives up (45 s), and
 * a refused one until the SDK's retries are spent (about 17 s).
 */
function defaultDeadline(timeouts: RpcTimeouts): Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path.split('/').at(-1) ?? '';
    if (options.deadline !== undefined || UNBOUNDED.has(method))
      return new InterceptingCall(nextCall(options));
    const ms = WAITS_ON_WORKER.has(method) ? timeouts.workerMs : timeouts.rpcMs;
    return new InterceptingCall(nextCall({ ...options, deadline: Date.now() + ms }));
  };
}

/** `target`: an address, or the options built from TLS/API-key settings (connection-options.ts). */
/** `dataConverter`: the payload codec (payloadDataConverter), so what the client sends is encrypted. */
export async function connectClient(
  target: string | TemporalConnectionOptions,
  namespace: string,
  dataConverter: DataConverter,
  timeouts?: RpcTimeouts,
): Promise<Client> {
  const connection = await Connection.connect({
    ...(typeof target === 'string' ? { address: target } : target),
    ...(timeouts
      ? {
          // After an outage the channel reconnects within a couple of seconds, not after grpc's
          // backoff has grown to minutes.
          // A connection that went silent (a partition) is found dead by keepalive within 15 s
          // (the SDK's default is 45 s; the server refuses pings more often than every 10 s).
          channelArgs: {
            'grpc.initial_reconnect_backoff_ms': 200,
            'grpc.max_reconnect_backoff_ms': 2000,
            'grpc.keepalive_time_ms': 10_000,
            'grpc.keepalive_timeout_ms': 5_000,
          },
          // Outermost first: the deadline covers all the retries of a call, not each attempt. A
          // refused server is retried for about a second (5 attempts), not the SDK's 17 s.
          interceptors: [
            defaultDeadline(timeouts),
            makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 5 })),
          ],
        }
      : {}),
  });
  return new Client({
    connection,
    namespace,
    dataConverter,
    interceptors: { workflow: [requestIdInterceptor()] },
  });
}

/** For /readyz: can the server answer for our namespace right now? */
export async function isTemporalReachable(client: Client, timeoutMs = 2000): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + timeoutMs, () =>
      client.workflowService.describeNamespace({ namespace: client.options.namespace }),
    );
    return true;
  } catch {
    return false;
  }
}
