import { fileURLToPath } from 'node:url';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index';
import type { Db } from '../db/knex';
import { createLinkStore } from '../links/link-store';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface PaylinksWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  /** A prebuilt bundle (tests build one per run); otherwise the worker bundles workflows/ itself. */
  workflowBundlePath?: string;
}

export async function createPaylinksWorker(options: PaylinksWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, db, workflowBundlePath } = options;
  const activities = createActivities({ links: createLinkStore(db) });
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    activities,
    ...(workflowBundlePath
      ? { workflowBundle: { codePath: workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
}
