import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import { DEFAULT_LIFECYCLE_SETTINGS, type LifecycleSettings } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { createLinkService } from '../links/link-service';
import { createLinkStore } from '../links/link-store';
import type { Logger } from '../logger';
import { createApp } from './app';

export interface ApiWiring {
  db: Db;
  temporal: Client;
  taskQueue: string;
  publicBaseUrl: string;
  createWaitMs: number;
  logger: Logger;
  settings?: LifecycleSettings;
}

/** Builds the whole API from its dependencies; entry points only listen and shut down. */
export function composeApi(w: ApiWiring): Express {
  const links = createLinkStore(w.db);
  const linkService = createLinkService({
    temporal: w.temporal,
    links,
    taskQueue: w.taskQueue,
    settings: w.settings ?? DEFAULT_LIFECYCLE_SETTINGS,
    createWaitMs: w.createWaitMs,
    logger: w.logger,
  });
  return createApp({
    db: w.db,
    temporal: w.temporal,
    links,
    linkService,
    publicBaseUrl: w.publicBaseUrl,
    logger: w.logger,
  });
}
