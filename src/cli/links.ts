/**
 * `paylinks links …`: an operator's view of payment links. list, show, timeline, cancel and resend
 * go through the HTTP API as any client does (PAYLINKS_API_URL, PAYLINKS_API_KEY); history reads
 * the link's workflow history from Temporal (the engine's TEMPORAL_* settings).
 */
import type { Payload } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { connectClient } from '../temporal/connection';
import { temporalAccessOf, temporalConnectionOptions } from '../temporal/connection-options';
import { formatTimeline, historyTimeline } from '../temporal/history-timeline';
import { legacyPlaintextDataConverter, revealEncodedFailures } from '../temporal/payload-codec';
import { action, CliError, callApi, print } from './api-client';

interface LinkJson {
  id: string;
  status: string;
  amount: number;
  amount_paid: number;
  currency: string;
  reference: string | null;
  description: string | null;
  url: string;
  customer: { email?: string; phone?: string; name?: string } | null;
  invoice_id: string | null;
  order_id: string | null;
  campaign_id: string | null;
  created_at: string;
  expires_at: string;
  closed_at: string | null;
}

interface EventJson {
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

const linkLine = (l: LinkJson) =>
  `${l.id}  ${l.status.padEnd(14)} ${String(l.amount).padStart(9)} ${l.currency}  created ${l.created_at}${l.reference ? `  ref ${l.reference}` : ''}`;

function linkDetails(l: LinkJson): string {
  const rows: [string, unknown][] = [
    ['id', l.id],
    ['status', l.status],
    ['amount', `${l.amount} ${l.currency} (minor units), ${l.amount_paid} paid`],
    ['description', l.description],
    ['reference', l.reference],
    [
      'customer',
      l.customer ? [l.customer.name, l.customer.email, l.customer.phone].filter(Boolean).join(', ') : null,
    ],
    ['invoice', l.invoice_id],
    ['order', l.order_id],
    ['campaign', l.campaign_id],
    ['url', l.url],
    ['created', l.created_at],
    ['expires', l.expires_at],
    ['closed', l.closed_at],
  ];
  return rows
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k.padEnd(12)} ${v}`)
    .join('\n');
}

const eventLine = (e: EventJson) => {
  const data = Object.entries(e.data ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${e.created_at}  ${e.type}${data ? `  ${data}` : ''}`;
};

/** Adds the operator's link commands to `links` (which also holds `repair`); errors exit through `program`. */
export function registerLinkCommands(program: Command, links: Command): void {
  links.description(
    'payment links: list, show, timeline, cancel, resend (API), history (Temporal), repair (Postgres)',
  );

  links
    .command('list')
    .option('--status <status>', 'only links in this status')
    .option('--reference <reference>', 'only the link with this reference')
    .option('--limit <n>', 'at most this many (1-100)', '20')
    .option('--json', 'print the API answer as JSON')
    .description("the account's links, newest first")
    .action(
      action(
        program,
        async (opts: { status?: string; reference?: string; limit: string; json?: boolean }) => {
          const query = new URLSearchParams({ limit: opts.limit });
          if (opts.status) query.set('status', opts.status);
          if (opts.reference) query.set('reference', opts.reference);
          const list = await callApi<{ data: LinkJson[]; has_more: boolean }>(
            loadConfig(),
            'GET',
            `/v1/payment_links?${query}`,
          );
          print(opts.json, list, () =>
            list.data.length === 0
              ? 'no payment links'
              : [...list.data.map(linkLine), ...(list.has_more ? ['… more: raise --limit'] : [])].join('\n'),
          );
        },
      ),
    );

  links
    .command('show')
    .argument('<id>', 'the payment link id')
    .option('--json', 'print the API answer as JSON')
    .description('one link: status, amounts, customer, documents, URL')
    .action(
      action(program, async (id: string, opts: { json?: boolean }) => {
        const link = await callApi<LinkJson>(
          loadConfig(),
          'GET',
          `/v1/payment_links/${encodeURIComponent(id)}`,
        );
        print(opts.json, link, () => linkDetails(link));
      }),
    );

  links
    .command('timeline')
    .argument('<id>', 'the payment link id')
    .option('--json', 'print the API answer as JSON')
    .description("the link's timeline as Paylinks stored it (sent, viewed, paid…)")
    .action(
      action(program, async (id: string, opts: { json?: boolean }) => {
        const events = await callApi<{ data: EventJson[] }>(
          loadConfig(),
          'GET',
          `/v1/payment_links/${encodeURIComponent(id)}/events`,
        );
        print(opts.json, events, () => events.data.map(eventLine).join('\n'));
      }),
    );

  links
    .command('cancel')
    .argument('<id>', 'the payment link id')
    .option('--reason <reason>', 'why (kept on the timeline)')
    .option('--notify', 'tell the customer the link was cancelled')
    .option('--json', 'print the API answer as JSON')
    .description('cancel an open link: reminders stop, the page says it is cancelled')
    .action(
      action(program, async (id: string, opts: { reason?: string; notify?: boolean; json?: boolean }) => {
        const link = await callApi<LinkJson>(
          loadConfig(),
          'POST',
          `/v1/payment_links/${encodeURIComponent(id)}/cancel`,
          {
            json: {
              ...(opts.reason ? { reason: opts.reason } : {}),
              ...(opts.notify ? { notify_customer: true } : {}),
            },
          },
        );
        print(opts.json, link, () => `cancelled ${linkLine(link)}`);
      }),
    );

  links
    .command('resend')
    .argument('<id>', 'the payment link id')
    .requiredOption('--channel <channel>', 'email or sms')
    .option('--json', 'print the API answer as JSON')
    .description('send the link to the customer again on one channel')
    .action(
      action(program, async (id: string, opts: { channel: string; json?: boolean }) => {
        if (opts.channel !== 'email' && opts.channel !== 'sms')
          throw new CliError(`--channel: "${opts.channel}" is not email or sms`);
        const link = await callApi<LinkJson>(
          loadConfig(),
          'POST',
          `/v1/payment_links/${encodeURIComponent(id)}/notify`,
          { json: { channel: opts.channel } },
        );
        print(opts.json, link, () => `resending ${link.id} by ${opts.channel}`);
      }),
    );

  links
    .command('history')
    .argument('<id>', 'the payment link id (its workflow id)')
    .option('--json', 'print the timeline as JSON lines {at, event_id, text}')
    .description("the link's Temporal workflow history as a readable timeline")
    .action(
      action(program, async (id: string, opts: { json?: boolean }) => {
        const config = loadConfig();
        const address = config.temporal.address ?? `127.0.0.1:${config.temporal.port}`;
        const client = await connectClient(
          temporalConnectionOptions(temporalAccessOf(config.temporal, address)),
          config.temporal.namespace,
          // The history's payloads are encrypted: the timeline decodes them with the engine's keys.
          // It only reads: a history from before the codec (or a forged plaintext event) shows too.
          legacyPlaintextDataConverter(config.payloadCodec.keys),
        );
        try {
          let history: Awaited<ReturnType<ReturnType<typeof client.workflow.getHandle>['fetchHistory']>>;
          try {
            history = await client.workflow.getHandle(id).fetchHistory();
          } catch (err) {
            if ((err as { name?: string }).name === 'WorkflowNotFoundError')
              throw new CliError(`no workflow ${id} in namespace ${config.temporal.namespace}`);
            throw err;
          }
          const converter = client.options.loadedDataConverter;
          await revealEncodedFailures(history.events, converter.payloadCodecs);
          const decode = (payload: Payload | null | undefined) =>
            decodeOptionalSinglePayload(converter, payload).catch(() => undefined);
          const lines = await historyTimeline(history.events ?? [], decode);
          if (opts.json) {
            for (const l of lines)
              console.log(JSON.stringify({ at: l.at?.toISOString(), event_id: l.eventId, text: l.text }));
          } else console.log(formatTimeline(lines));
        } finally {
          await client.connection.close();
        }
      }),
    );
}
