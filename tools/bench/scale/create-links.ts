/**
 * The scale bench's links, made through the API's create path (LinkService.create: start the
 * workflow, wait for its update that the row is stored) with no channels: nothing is sent, the
 * figures are the lifecycle's own. The long-lived links first; their pace sets when the expiring
 * minute can start.
 */
import type { Client } from '@temporalio/client';
import { createCommerceStores } from '../../../src/commerce/stores';
import type { Db } from '../../../src/db/knex';
import { CreatePaymentLinkSchema } from '../../../src/links/create-link';
import { createLinkService } from '../../../src/links/link-service';
import { createLinkStore } from '../../../src/links/link-store';
import { createLogger } from '../../../src/logger';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../../workflows/payment-link/contract';
import type { ScaleBenchFigures } from './figures';
import { cpuSeconds, ownCpuSeconds, pool } from './proc';

export interface CreateLinksOptions {
  db: Db;
  client: Client;
  taskQueue: string;
  accountId: string;
  total: number;
  expiring: number;
  concurrency: number;
  /** The processes whose CPU each link costs. */
  workerPid: number;
  temporalPid: number;
  log: (line: string) => void;
}

/** Creates every link: `total − expiring` open for 30 days, then `expiring` inside one minute. */
export async function createScaleLinks(o: CreateLinksOptions): Promise<ScaleBenchFigures['create']> {
  const { db, total, expiring, concurrency, log } = o;
  const service = createLinkService({
    temporal: o.client,
    links: createLinkStore(db),
    taskQueue: o.taskQueue,
    settings: DEFAULT_LIFECYCLE_SETTINGS,
    createWaitMs: 60_000,
    logger: createLogger('silent'),
    commerce: createCommerceStores(db),
  });
  const merchant = { id: o.accountId, name: 'Scale bench shop', timezone: 'UTC' };
  const create = async (i: number, expiresAt?: Date) => {
    await service.create(
      merchant,
      CreatePaymentLinkSchema.parse({
        amount: 1000 + (i % 9000),
        currency: 'EUR',
        description: `Scale bench link ${i}`,
        reference: `scale-${i}`,
        // No channels: nothing is sent, the figures are the lifecycle's own.
        channels: [],
        ...(expiresAt ? { expires_at: expiresAt.toISOString() } : { expires_in: 'P30D' }),
      }),
    );
  };

  const createStart = Date.now();
  const cpuBefore = {
    worker: cpuSeconds(o.workerPid),
    temporal: cpuSeconds(o.temporalPid),
    client: ownCpuSeconds(),
  };
  const long = total - expiring;
  let done = 0;
  const progress = setInterval(() => log(`created ${done}/${total}`), 10_000);
  try {
    await pool(long, concurrency, async (i) => {
      await create(i);
      done++;
    });
    const perMs = Math.max(done, 1) / Math.max(Date.now() - createStart, 1);
    // Room to create the expiring links (with margin) and to measure at rest before the first expires.
    const windowStart = Date.now() + expiring / perMs / 0.6 + 25_000;
    const windowMs = 60_000;
    const expiresAt = (i: number) =>
      new Date(windowStart + Math.floor((i * windowMs) / Math.max(expiring, 1)));
    log(`expiring links: ${new Date(windowStart).toISOString()} + 60 s`);
    await pool(expiring, concurrency, async (i) => {
      await create(long + i, expiresAt(i));
      done++;
    });
  } finally {
    clearInterval(progress);
  }
  const createSeconds = (Date.now() - createStart) / 1000;
  const perLinkCpu = (now: number, before: number) => Math.round(((now - before) * 1000 * 10) / total) / 10;
  const cpuMsPerLink = {
    worker: perLinkCpu(cpuSeconds(o.workerPid), cpuBefore.worker),
    temporal: perLinkCpu(cpuSeconds(o.temporalPid), cpuBefore.temporal),
    client: perLinkCpu(ownCpuSeconds(), cpuBefore.client),
  };
  log(`created ${total} links in ${createSeconds.toFixed(1)} s`);
  return {
    seconds: Math.round(createSeconds * 10) / 10,
    perSecond: Math.round(total / createSeconds),
    concurrency,
    cpuMsPerLink,
  };
}
