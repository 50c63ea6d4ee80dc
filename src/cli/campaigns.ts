/**
 * `paylinks campaigns …`: send a payment link to every recipient of a CSV file, and steer the run.
 * Everything goes through the HTTP API as any client does (PAYLINKS_API_URL, PAYLINKS_API_KEY).
 *
 *   paylinks campaigns create --name "December dues" --file recipients.csv --amount 25 --currency EUR
 *   paylinks campaigns show|pause|resume|cancel ID
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import type { CampaignSchedule } from '../campaigns/schema';
import { type Config, loadConfig } from '../config';
import { currencyExponent } from '../money/currencies';
import { parseTypedAmount } from '../money/parse';
import { ApiError, action, CliError, callApi, print } from './api-client';
import {
  type CampaignJson,
  formatCampaign,
  formatImport,
  formatMinor,
  type ImportResult,
} from './campaign-format';
import { watchCampaign } from './campaign-watch';

const CHANNELS = ['email', 'sms'] as const;
const POLL_MS = 1000;

/** Which option of `campaigns create` sets each field of the API's request. */
const OPTION_OF_PARAM: [RegExp, string][] = [
  [/^name$/, '--name'],
  [/^link\.amount$/, '--amount'],
  [/^link\.currency$/, '--currency'],
  [/^link\.description$/, '--description'],
  [/^link\.channels/, '--channels'],
  [/^link\.expires_in$/, '--expires-in'],
  [/^link\.quiet_hours/, '--quiet-hours'],
  [/^schedule\.start_at$/, '--start-at'],
  [/^schedule\.send_at_local/, '--send-at-local'],
  [/^throttle\./, '--per-second'],
];

/** An API refusal of what the operator typed, led by the option that set the field. */
function blameOption(err: unknown): never {
  if (err instanceof ApiError && err.param) {
    const option = OPTION_OF_PARAM.find(([re]) => re.test(err.param as string))?.[1];
    if (option) throw new CliError(`${option}: ${err.message}`);
  }
  throw err;
}

interface CreateOptions {
  name: string;
  file: string;
  amount: string;
  currency: string;
  description?: string;
  channels: string;
  expiresIn?: string;
  quietHours?: string;
  sendAtLocal?: string;
  startAt?: string;
  perSecond?: string;
  start: boolean;
}

/** The POST /v1/campaigns body from the options; a mistake the API would refuse is caught here first. */
export function campaignRequest(opts: CreateOptions): Record<string, unknown> {
  const currency = opts.currency.toUpperCase();
  if (currencyExponent(currency) === undefined)
    throw new CliError(`--currency: "${opts.currency}" is not an ISO 4217 currency code such as EUR`);
  const amount = parseTypedAmount(opts.amount, currency, 'en');
  if (!amount.ok || amount.minor <= 0)
    throw new CliError(
      amount.ok || amount.reason !== 'too_many_decimals'
        ? `--amount: "${opts.amount}" is not a positive amount such as 25, 19.99 or 1,250.00`
        : `--amount: ${currency} has ${currencyExponent(currency)} decimals at most ("${opts.amount}")`,
    );
  const channels = opts.channels
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const unknown = channels.find((c) => !(CHANNELS as readonly string[]).includes(c));
  if (unknown !== undefined) throw new CliError(`--channels: "${unknown}" is not email or sms`);
  if (opts.sendAtLocal && opts.startAt)
    throw new CliError('--send-at-local: give it or --start-at, not both');

  let quietHours: { start: string; end: string } | null | undefined;
  if (opts.quietHours !== undefined) {
    const m = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(opts.quietHours);
    if (opts.quietHours === 'none') quietHours = null;
    else if (m) quietHours = { start: m[1] as string, end: m[2] as string };
    else
      throw new CliError(`--quiet-hours: "${opts.quietHours}" is not a window such as 21:00-08:00, or none`);
  }

  let schedule: CampaignSchedule | undefined;
  if (opts.sendAtLocal) {
    const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)$/.exec(opts.sendAtLocal);
    if (!m || !DateTime.fromISO(`${m[1]}T${m[2]}`).isValid)
      throw new CliError(
        `--send-at-local: "${opts.sendAtLocal}" is not a local date and time such as 2026-12-01T10:00`,
      );
    schedule = { send_at_local: { date: m[1] as string, time: m[2] as string } };
  } else if (opts.startAt) {
    const at = DateTime.fromISO(opts.startAt, { setZone: true });
    if (!at.isValid || !/(Z|[+-]\d\d:?\d\d)$/.test(opts.startAt))
      throw new CliError(
        `--start-at: "${opts.startAt}" is not an ISO 8601 time with its offset such as 2026-12-01T09:00:00Z`,
      );
    schedule = { start_at: at.toUTC().toISO() as string };
  }

  let throttle: Record<string, number> | undefined;
  if (opts.perSecond !== undefined) {
    const n = Number(opts.perSecond);
    if (!Number.isFinite(n) || n <= 0)
      throw new CliError(`--per-second: "${opts.perSecond}" is not a positive number`);
    // One pace for the whole run: links, and the messages on each channel that carry them.
    throttle = { links_per_second: n, email_per_second: n, sms_per_second: n };
  }

  return {
    name: opts.name,
    link: {
      amount: amount.minor,
      currency,
      ...(opts.description !== undefined ? { description: opts.description } : {}),
      channels,
      ...(opts.expiresIn !== undefined ? { expires_in: opts.expiresIn } : {}),
      ...(quietHours !== undefined ? { quiet_hours: quietHours } : {}),
    },
    ...(schedule ? { schedule } : {}),
    ...(throttle ? { throttle } : {}),
  };
}

/** The recipients file, streamed to the API as it is read: a file of any size is never held in memory. */
async function uploadRecipients(config: Config, id: string, file: string): Promise<ImportResult> {
  const stream = createReadStream(file);
  return callApi<ImportResult>(config, 'POST', `/v1/campaigns/${encodeURIComponent(id)}/recipients`, {
    stream: Readable.toWeb(stream) as ReadableStream<Uint8Array>,
    contentType: extname(file).toLowerCase() === '.json' ? 'application/json' : 'text/csv',
  });
}

const campaignPath = (id: string, action = '') =>
  `/v1/campaigns/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

/** Pages of waiting recipients read to find the next send time; a larger backlog is not scanned. */
const MAX_PENDING_PAGES = 20;

/** The earliest send time among the recipients still waiting, or undefined when there are too many to tell. */
async function nextSendAt(config: Config, id: string): Promise<string | undefined> {
  let earliest: string | undefined;
  let after: number | undefined;
  for (let page = 0; page < MAX_PENDING_PAGES; page++) {
    const query = new URLSearchParams({ status: 'pending', limit: '100' });
    if (after !== undefined) query.set('starting_after', String(after));
    const list = await callApi<{ data: { seq: number; send_at: string | null }[]; has_more: boolean }>(
      config,
      'GET',
      `${campaignPath(id, 'recipients')}?${query}`,
    );
    for (const r of list.data) {
      // Not yet given a time: the engine is still working through the zones.
      if (r.send_at === null) return undefined;
      if (earliest === undefined || Date.parse(r.send_at) < Date.parse(earliest)) earliest = r.send_at;
    }
    if (!list.has_more) return earliest;
    after = list.data.at(-1)?.seq;
  }
  return undefined;
}

async function startAndWatch(config: Config, id: string): Promise<void> {
  const started = await callApi<CampaignJson>(config, 'POST', campaignPath(id, 'start'), { json: {} });
  console.log(`started campaign ${id} (${started.status ?? 'starting'})`);
  await watchCampaign({
    read: () => callApi<CampaignJson>(config, 'GET', campaignPath(id)),
    nextSendAt: () => nextSendAt(config, id),
    out: process.stdout,
    intervalMs: POLL_MS,
  });
}

export function registerCampaignCommands(program: Command): void {
  const campaigns = program
    .command('campaigns')
    .description('campaigns: one payment link for every recipient of a CSV file, sent on a schedule');

  campaigns
    .command('create')
    .requiredOption('--name <name>', 'the campaign name (yours, not shown to customers)')
    .requiredOption('--file <path>', 'recipients: CSV with a header row (email, phone, name, …) or JSON')
    .requiredOption('--amount <amount>', "each link's amount in the currency's unit, such as 25 or 19.99")
    .requiredOption('--currency <code>', 'ISO 4217 currency, such as EUR')
    .option('--description <text>', 'what the customer pays for')
    .option('--channels <list>', 'how links go out: email, sms or email,sms', 'email')
    .option('--expires-in <duration>', 'how long each link stays payable (ISO 8601, such as P14D)')
    .option(
      '--quiet-hours <window>',
      "no message in this window of each recipient's day (default 21:00-08:00), or none",
    )
    .option('--send-at-local <date-time>', "send at this time in each recipient's own zone: 2026-12-01T10:00")
    .option('--start-at <time>', 'start sending at this instant (ISO 8601 with offset)')
    .option('--per-second <n>', 'at most this many links (and messages per channel) a second')
    .option('--no-start', 'create and import only: the campaign stays a draft')
    .description('create a campaign, import its recipients, start it and follow its progress')
    .action(
      action(program, async (opts: CreateOptions) => {
        const config = loadConfig();
        const body = campaignRequest(opts);
        try {
          if (!(await stat(opts.file)).isFile()) throw new Error('not a file');
        } catch (err) {
          throw new CliError(`--file: cannot read ${opts.file} (${(err as Error).message})`);
        }
        const campaign = await callApi<CampaignJson>(config, 'POST', '/v1/campaigns', { json: body }).catch(
          blameOption,
        );
        const link = body.link as { amount: number; currency: string };
        console.log(
          `created campaign ${campaign.id} "${opts.name}": ${formatMinor(link.amount, link.currency)} per link`,
        );

        let imported: ImportResult;
        try {
          imported = await uploadRecipients(config, campaign.id, opts.file);
        } catch (err) {
          if (err instanceof CliError)
            throw new CliError(`--file: ${err.message}; campaign ${campaign.id} stays a draft`);
          throw err;
        }
        console.log(formatImport(imported));
        if (imported.accepted === 0)
          throw new CliError(`--file: no recipient could be imported; campaign ${campaign.id} stays a draft`);
        if (!opts.start) {
          console.log(
            `campaign ${campaign.id} is a draft; start it with \`paylinks campaigns start ${campaign.id}\``,
          );
          return;
        }
        await startAndWatch(config, campaign.id);
      }),
    );

  campaigns
    .command('start')
    .argument('<id>', 'the campaign id')
    .description('start a draft campaign and follow its progress')
    .action(action(program, (id: string) => startAndWatch(loadConfig(), id)));

  campaigns
    .command('show')
    .argument('<id>', 'the campaign id')
    .option('--json', 'print the API answer as JSON')
    .description('where a campaign stands: links created, messages, views, payments, money collected')
    .action(
      action(program, async (id: string, opts: { json?: boolean }) => {
        const campaign = await callApi<CampaignJson>(loadConfig(), 'GET', campaignPath(id));
        print(opts.json, campaign, () => formatCampaign(campaign));
      }),
    );

  const steer = (verb: 'pause' | 'resume' | 'cancel', description: string) =>
    campaigns
      .command(verb)
      .argument('<id>', 'the campaign id')
      .option('--json', 'print the API answer as JSON')
      .description(description);

  steer('pause', 'stop creating and sending links until resumed').action(
    action(program, async (id: string, opts: { json?: boolean }) => {
      const c = await callApi<CampaignJson>(loadConfig(), 'POST', campaignPath(id, 'pause'), { json: {} });
      print(opts.json, c, () => `paused campaign ${id} (${c.status})`);
    }),
  );
  steer('resume', 'go on creating and sending where the campaign was paused').action(
    action(program, async (id: string, opts: { json?: boolean }) => {
      const c = await callApi<CampaignJson>(loadConfig(), 'POST', campaignPath(id, 'resume'), { json: {} });
      print(opts.json, c, () => `resumed campaign ${id} (${c.status})`);
    }),
  );
  steer('cancel', 'stop the campaign for good: no more links are created or sent')
    .option('--cancel-links', 'also cancel the links already sent (their pages say so)')
    .action(
      action(program, async (id: string, opts: { json?: boolean; cancelLinks?: boolean }) => {
        const c = await callApi<CampaignJson>(loadConfig(), 'POST', campaignPath(id, 'cancel'), {
          json: opts.cancelLinks ? { cancel_links: true } : {},
        });
        print(
          opts.json,
          c,
          () =>
            `cancelled campaign ${id} (${c.status})${opts.cancelLinks ? '; its open links are cancelled' : ''}`,
        );
      }),
    );
}
