import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Local state of `npm start`: the dev server's SQLite file and the embedded Postgres. */
export const DATA_DIR = join(PROJECT_ROOT, '.data');
/** Where a Temporal CLI built by the project lives. */
export const TOOLS_DIR = join(PROJECT_ROOT, '.tools');
