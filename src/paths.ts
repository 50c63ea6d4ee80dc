import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where a Temporal CLI built by the project lives. */
export const TOOLS_DIR = join(PROJECT_ROOT, '.tools');
