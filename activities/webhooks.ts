import { ApplicationFailure, Context } from '@temporalio/activity';
import { SIGNATURE_HEADER, signPayload } from '../src/signing';
import { type EgressPolicy, postGuarded } from '../src/webhooks/egress';
import type { WebhookStore } from '../src/webhooks/webhook-store';

export interface WebhookActivityDeps {
  webhooks: WebhookStore;
  /** Per attempt; retries (the workflow's policy, or the outbox's) space attempts out over a day. */
  timeoutMs?: number;
  /** Which addresses deliveries may connect to, and the resolver (tests inject one). */
  egress: EgressPolicy;
}

export interface WebhookEvent {
  /** Stable across retries, so the receiver can deduplicate. */
  id: string;
  type: string;
  accountId: string;
  linkId: string;
  createdAt: string;
  data: Record<string, unknown>;
}

/** The endpoint's address is one the egress policy refuses: no later attempt would be let through. */
export class WebhookRefusedError extends Error {}

/**
 * One attempt at one event, from the `deliverWebhook` activity or the outbox drainer: POSTs it to
 * the account's endpoint, signed like provider callbacks (`Paylinks-Signature: t=…,v1=…`). Every
 * attempt is recorded (status, duration, an error class; never the response body); anything but a
 * 2xx throws, a refused address as WebhookRefusedError.
 */
export async function deliverWebhookOnce(
  { webhooks, timeoutMs = 10_000, egress }: WebhookActivityDeps,
  event: WebhookEvent,
  attempt: number,
): Promise<'delivered' | 'no_endpoint'> {
  const endpoint = await webhooks.endpoint(event.accountId);
  if (!endpoint) return 'no_endpoint';
  const body = JSON.stringify({
    id: event.id,
    object: 'event',
    type: event.type,
    created: event.createdAt,
    data: event.data,
  });
  const started = Date.now();
  // Checked again at connect time: the host may resolve elsewhere than at registration.
  const { status, error } = await postGuarded(
    endpoint.url,
    {
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signPayload(endpoint.secret, body),
      },
      body,
      timeoutMs,
    },
    egress,
  );
  await webhooks.recordAttempt({
    accountId: event.accountId,
    eventId: event.id,
    eventType: event.type,
    linkId: event.linkId,
    url: endpoint.url,
    attempt,
    responseStatus: status,
    error,
    durationMs: Date.now() - started,
  });
  if (error === 'refused_address')
    throw new WebhookRefusedError(
      `webhook ${event.id} to ${endpoint.url} refused: the address is not allowed`,
    );
  if (error) throw new Error(`webhook ${event.id} to ${endpoint.url} failed: ${error}`);
  return 'delivered';
}

export function createWebhookActivities(deps: WebhookActivityDeps) {
  return {
    /**
     * One event, for runs that started before the outbox (`outbox-deliveries`) and the API's
     * one-shot webhook-delivery workflow. Temporal retries with backoff, except a refused address:
     * the egress policy will refuse it as well a minute or an hour later, so the attempt is
     * recorded and delivery stops (the workflows already treat a delivery that failed for good as
     * given up: no workflow command changes).
     */
    async deliverWebhook(event: WebhookEvent): Promise<'delivered' | 'no_endpoint'> {
      try {
        return await deliverWebhookOnce(deps, event, Context.current().info.attempt);
      } catch (err) {
        if (err instanceof WebhookRefusedError)
          throw ApplicationFailure.nonRetryable(err.message, 'WebhookRefusedAddress');
        throw err;
      }
    },
  };
}
