/**
 * Errors that say the database cannot be reached or cannot serve right now, as opposed to a
 * query the database refused: the first are a 503 worth retrying, the second never are.
 */

/** Socket-level failures reaching the server (node's error codes). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away, full or overloaded: class 08 (connection
 * exception), class 53 (insufficient resources: 53300 too many connections), 57P01–57P03
 * (admin or crash shutdown, cannot connect now) and 57014 (statement_timeout cancelled it).
 */
const isUnavailableSqlState = (code: string) =>
  /^(08|53)[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '57014'].includes(code);

/**
 * pg reports a lost or silent connection without a code; knex prefixes the SQL to the message,
 * so these are searched, not anchored.
 */
const DRIVER_MESSAGES = [
  'Connection terminated', // the socket closed (unexpectedly, or pg's connect timeout fired)
  'timeout expired', // pg's connectionTimeoutMillis (older wording)
  'Query read timeout', // pg's query_timeout: no answer at all
  'not queryable', // a client whose connection already failed
];

function isUnavailableError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code, message } = err as { name?: unknown; code?: unknown; message?: unknown };
  // The pool's own acquire timeout: every connection busy or none can be opened.
  if (name === 'KnexTimeoutError') return true;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableSqlState(code))) return true;
  return typeof message === 'string' && DRIVER_MESSAGES.some((m) => message.includes(m));
}

/** The error, or one of its causes (a wrapped or aggregate error), says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  if (isUnavailableError(err)) return true;
  const { cause, errors } = err as { cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}
