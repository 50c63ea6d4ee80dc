/**
 * Paylinks' own Prometheus metrics. One registry per process: the API counts what happens in
 * requests, the worker counts what its activities did (they run there, not in the API), and each
 * process exposes its registry (README: "Metrics"). Counters are per process and reset on restart;
 * Prometheus' rate() and increase() are made for that.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'paylinks_' });

export const httpRequestDuration = new Histogram({
  name: 'paylinks_http_request_duration_seconds',
  help: 'HTTP requests by method, Express route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const linksCreated = new Counter({
  name: 'paylinks_links_created_total',
  help: 'Payment links stored by their workflow (worker)',
  registers: [registry],
});

export const linksClosed = new Counter({
  name: 'paylinks_links_closed_total',
  help: 'Payment links that reached a terminal status: paid, completed, expired, cancelled (worker)',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const payments = new Counter({
  name: 'paylinks_payments_total',
  help: 'Payments by outcome: succeeded, duplicate (worker), failed (API, provider callbacks)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const messages = new Counter({
  name: 'paylinks_messages_total',
  help: 'Customer messages by channel and outcome: sent, suppressed, no_address, already_handled, failed, retry (worker)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'paylinks_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome: delivered, no_endpoint, failed (worker)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const callbackVerificationFailures = new Counter({
  name: 'paylinks_callback_verification_failures_total',
  help: 'Provider callbacks refused for a bad or missing signature, by provider (API)',
  labelNames: ['provider'] as const,
  registers: [registry],
});

/** The Prometheus text exposition of this process' metrics. */
export async function scrape(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
