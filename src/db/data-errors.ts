/**
 * Postgres refusing a value itself: SQLSTATE class 22, "data exception" (22021 invalid byte
 * sequence, 22P05 untranslatable character, 22008 datetime out of range, 22001 string too long…).
 * The API's schemas refuse such input first (src/api/text.ts); this recognises what slips past.
 */
export function dataExceptionCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  // `severity` marks an error Postgres sent, not a Node system error that happens to have a code.
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) && typeof severity === 'string'
    ? code
    : undefined;
}
