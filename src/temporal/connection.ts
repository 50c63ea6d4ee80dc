import { Client, Connection } from '@temporalio/client';
import type { TemporalConnectionOptions } from './connection-options';
import { requestIdInterceptor } from './request-id-interceptor';

/** `target`: an address, or the options built from TLS/API-key settings (connection-options.ts). */
export async function connectClient(
  target: string | TemporalConnectionOptions,
  namespace: string,
): Promise<Client> {
  const connection = await Connection.connect(typeof target === 'string' ? { address: target } : target);
  return new Client({ connection, namespace, interceptors: { workflow: [requestIdInterceptor()] } });
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
