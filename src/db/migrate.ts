import { migrationSource } from '../../migrations/index';
import type { Db } from './knex';

/** Applies every pending migration; returns the names it applied. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}
