/**
 * The Temporal SDK runtime of a worker process, installed once before any connection: its logs
 * (the worker's own and workflow `log` calls, and core's, forwarded) go through our pino logger,
 * and its own metrics (task latencies, slots, schedule-to-start…) are served for Prometheus when
 * TEMPORAL_METRICS_BIND is set.
 */
import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, type LogEntry, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { Logger } from '../logger';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

const SDK_LEVEL: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/** A Temporal logger that writes each entry as a pino line, with the SDK's metadata as fields. */
export function sdkLoggerFor(logger: Logger): DefaultLogger {
  const sdk = logger.child({ source: 'temporal' });
  return new DefaultLogger(SDK_LEVEL[logger.level] ?? 'INFO', (entry: LogEntry) => {
    const { message, level, meta } = entry;
    sdk[PINO_LEVEL[level]]({ ...meta }, message);
  });
}

export interface RuntimeSettings {
  logger: Logger;
  /** host:port for the SDK's Prometheus exporter (TEMPORAL_METRICS_BIND); undefined: no SDK metrics. */
  metricsBind?: string;
}

export function installTemporalRuntime({ logger, metricsBind }: RuntimeSettings): void {
  Runtime.install({
    logger: sdkLoggerFor(logger),
    telemetryOptions: {
      // Core (Rust) logs are forwarded to the same logger; WARN keeps its routine chatter out.
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'WARN' }) },
      ...(metricsBind ? { metrics: { prometheus: { bindAddress: metricsBind } } } : {}),
    },
  });
}
