import { pino } from 'pino';

export type Logger = pino.Logger;

/** Secrets never reach the log: these paths are redacted wherever they appear. */
const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'api_key',
  'apiKey',
  '*.api_key',
  '*.apiKey',
  'password',
  '*.password',
];

export function createLogger(level: string, name = 'paylinks'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
