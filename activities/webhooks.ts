import { Context } from '@temporalio/activity';
import { SIGNATURE_HEADER, signPayload } from '../src/signing';
import type { WebhookStore } from '../src/webhooks/webhook-store';

export interface WebhookActivityDeps {
  webhooks: WebhookStore;
  /** Per attempt; the workflow's retry policy spaces attempts out over a day. */
  timeoutMs?: number;
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

export function createWebhookActivities({ webhooks, timeoutMs = 10_000 }: WebhookActivityDeps) {
  return {
    /**
     * POSTs one event to the account's endpoint, signed like provider callbacks
     * (`Paylinks-Signature: t=…,v1=…`). Every attempt is recorded; anything but a 2xx throws,
     * and Temporal retries with backoff.
     */
    async deliverWebhook(event: WebhookEvent): Promise<'delivered' | 'no_endpoint'> {
      const endpoint = await webhooks.endpoint(event.accountId);
      if (!endpoint) return 'no_endpoint';
      const body = JSON.stringify({
        id: event.id,
        object: 'event',
        type: event.type,
        created: event.createdAt,
        data: event.data,
      });
      const attempt = Context.current().info.attempt;
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signPayload(endpoint.secret, body),
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
          // A redirect could lead anywhere, including inside our network: it counts as a failure.
          redirect: 'manual',
        });
        status = res.status;
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).message;
      }
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
      if (error) throw new Error(`webhook ${event.id} to ${endpoint.url} failed: ${error}`);
      return 'delivered';
    },
  };
}
