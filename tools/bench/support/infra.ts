/**
 * What every bench stands on: a Temporal server (its own dev server, in memory, unless
 * TEMPORAL_ADDRESS) and a scratch database on DATABASE_URL's server, migrated, dropped at the end.
 * `stop()` undoes whatever was started, once; SIGINT/SIGTERM run it too before exiting.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_DATABASE_URL } from '../../../src/config';
import { createDb, dropDatabase, ensureDatabase } from '../../../src/db/knex';
import { migrateLatest } from '../../../src/db/migrate';
import { createLogger } from '../../../src/logger';
import { TOOLS_DIR } from '../../../src/paths';
import { Shutdown } from '../../../src/shutdown';
import { resolveTemporalCli } from '../../../src/temporal/cli-binary';
import { startDevServer } from '../../../src/temporal/dev-server';
import { freePort } from '../../../test/helpers/ports';

export interface BenchInfra {
  temporalAddress: string;
  databaseUrl: string;
  /** Also stops whatever was registered with `add`, in reverse order, first. */
  stop(): Promise<void>;
  add(name: string, stop: () => Promise<unknown>): void;
}

export async function startBenchInfra(): Promise<BenchInfra> {
  const shutdown = new Shutdown(createLogger('warn'));
  shutdown.onSignals(() => process.exit(130));
  try {
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    if (!temporalAddress) {
      const binary = await resolveTemporalCli({
        explicitPath: process.env.TEMPORAL_CLI_PATH,
        toolsDir: TOOLS_DIR,
        onProgress: (line) => console.error(line),
      });
      const server = await startDevServer({ binary, port: await freePort() });
      shutdown.add('Temporal dev server', server.stop);
      temporalAddress = server.address;
    }
    const url = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
    url.pathname = `/paylinks_bench_${randomBytes(4).toString('hex')}`;
    const databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    shutdown.add('scratch database', () => dropDatabase(databaseUrl));
    const db = createDb(databaseUrl, { max: 1 });
    try {
      await migrateLatest(db);
    } finally {
      await db.destroy();
    }
    return {
      temporalAddress,
      databaseUrl,
      stop: () => shutdown.run(),
      add: (name, stop) => shutdown.add(name, stop),
    };
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}
