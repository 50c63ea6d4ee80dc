/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the local default). */
import { DEFAULT_DATABASE_URL, loadConfig } from '../config';
import { createDb, ensureDatabase } from './knex';
import { migrateLatest } from './migrate';

const url = loadConfig().databaseUrl ?? DEFAULT_DATABASE_URL;
await ensureDatabase(url);
const db = createDb(url);
try {
  const applied = await migrateLatest(db);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'already up to date');
} finally {
  await db.destroy();
}
