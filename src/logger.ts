import { pino } from 'pino';
import { maskContact } from './observability/mask';
import { currentRequest } from './observability/request-context';

export type Logger = pino.Logger;

/** Secrets never reach the log: these paths are redacted wherever they appear. */
const SECRETS = [
  'req.headers.authorization',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'api_key',
  'apiKey',
  '*.api_key',
  '*.apiKey',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'auth_token',
  '*.authToken',
];
/** Personal data: masked rather than removed, so two customers can still be told apart. */
const CONTACTS = ['email', '*.email', 'phone', '*.phone', 'to', '*.to', 'recipient', '*.recipient'];

const SECRET_FIELDS = new Set(SECRETS.map((p) => p.split('.').pop()));

const censor = (value: unknown, path: string[]): unknown => {
  if (SECRET_FIELDS.has(path[path.length - 1])) return '[redacted]';
  return typeof value === 'string' ? maskContact(value) : '[redacted]';
};

export interface LoggerOptions {
  /** Human-readable lines (pino-pretty) instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go instead of stdout (tests read them back). */
  destination?: pino.DestinationStream;
}

export function createLogger(level: string, name = 'paylinks', options: LoggerOptions = {}): Logger {
  const pretty =
    !options.destination && (options.pretty ?? (process.stdout.isTTY === true && level !== 'silent'));
  const settings: pino.LoggerOptions = {
    name,
    level,
    redact: { paths: [...SECRETS, ...CONTACTS], censor },
    // Whatever is logged while serving a request carries its id (errors included).
    mixin: () => {
      const request = currentRequest();
      return request ? { request_id: request.requestId } : {};
    },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** LOG_FORMAT, when set, decides; otherwise a terminal gets pretty lines and a pipe gets JSON. */
export const prettyFor = (format: 'json' | 'pretty' | undefined): boolean | undefined =>
  format === undefined ? undefined : format === 'pretty';
