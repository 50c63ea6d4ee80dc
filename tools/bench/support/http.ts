/**
 * The benches' HTTP client: node:http with keep-alive, as a client of the API would be; one
 * socket per concurrent caller. An idle socket is dropped after 4 s, before the server's 5 s
 * keep-alive timeout can close it under a new request.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { TaskQueueType } = proto.temporal.api.enums.v1;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface KeepAliveHttp {
  request(
    method: string,
    url: string,
    opts?: { body?: string; headers?: Record<string, string> },
  ): Promise<HttpAnswer>;
  /** Closes the idle sockets, so that they do not hold the process's exit. */
  destroy(): void;
}

export function keepAliveHttp(maxSockets: number): KeepAliveHttp {
  const agent = new Agent({ keepAlive: true, maxSockets, timeout: 4000 });
  return {
    request: (method, url, opts = {}) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(url, { method, agent, headers: opts.headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(opts.body);
      }),
    destroy: () => agent.destroy(),
  };
}

/** Whether a worker polls `queue`'s workflow tasks: the worker role is ready. */
export async function workflowQueuePolled(client: Client, queue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: queue },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers?.length ?? 0) > 0;
}
