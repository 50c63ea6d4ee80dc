import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';

/** `dataConverter`: the payload codec (payloadDataConverter), so what the client sends is encrypted. */
export async function connectClient(
  address: string,
  namespace: string,
  dataConverter: DataConverter,
): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace, dataConverter });
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
