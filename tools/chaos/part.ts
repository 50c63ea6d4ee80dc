/**
 * What every part of the fault suite (`npm run chaos`) returns: its name, whether it held, what
 * broke (one line each, precise enough to replay), and its figures.
 */
export interface PartResult {
  part: string;
  ok: boolean;
  failures: string[];
  [figure: string]: unknown;
}

export type Part = { run(): Promise<PartResult> };

/** Sizes come from flags (`--links 50`) or the environment (`CHAOS_LINKS=50`), flags first. */
export function setting(name: string, fallback: number): number {
  const flag = `--${name}`;
  const at = process.argv.indexOf(flag);
  const raw =
    at >= 0 ? process.argv[at + 1] : process.env[`CHAOS_${name.toUpperCase().replaceAll('-', '_')}`];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${flag} must be a whole number, got ${raw}`);
  return value;
}

/** At most `limit` failure lines in a summary: the first ones are the ones to replay. */
export function firstFailures(failures: string[], limit = 20): string[] {
  return failures.length <= limit
    ? failures
    : [...failures.slice(0, limit), `… and ${failures.length - limit} more`];
}
