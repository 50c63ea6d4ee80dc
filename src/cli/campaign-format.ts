/**
 * What `paylinks campaigns …` prints, as pure functions of the API's answers (so a unit test
 * reads them without a stack): the import report, the progress block of `show`, the one-line
 * progress of a non-terminal, and when a scheduled campaign sends.
 */
import type { CampaignStatus } from '../../workflows/campaign/contract';
import type { CampaignProgress } from '../campaigns/progress';
import type { CampaignSchedule } from '../campaigns/schema';
import { currencyExponent } from '../money/currencies';

/**
 * `progress` as the CLI reads it: the fields the API's contract names, and those it adds beyond
 * them when the API gives them.
 */
export type ProgressJson = Pick<
  CampaignProgress,
  | 'recipients'
  | 'links_created'
  | 'messages_sent'
  | 'messages_delivered'
  | 'messages_failed'
  | 'links_viewed'
  | 'links_paid'
  | 'amount_collected'
  | 'conversion_rate'
  | 'median_time_to_pay_seconds'
> &
  Partial<Pick<CampaignProgress, 'recipients_by_status' | 'by_channel'>>;

/** GET /v1/campaigns/:id: the contract's fields, and what else the API may add (name, schedule…). */
export interface CampaignJson {
  id: string;
  object: 'campaign';
  status: CampaignStatus;
  progress: ProgressJson;
  name?: string;
  mode?: string;
  schedule?: CampaignSchedule | null;
  link?: { amount?: number; currency?: string; channels?: string[] };
  [field: string]: unknown;
}

export interface RejectedRow {
  row: number;
  column?: string | null;
  reason: string;
}

/** POST /v1/campaigns/:id/recipients. `duplicates`: a count, or the rows (the contract names only the field). */
export interface ImportResult {
  accepted: number;
  /** The rows listed (the API may list only the first of many). */
  rejected: RejectedRow[];
  /** Every rejected row, when the API lists fewer. */
  rejected_count?: number;
  duplicates: number | unknown[];
}

/** Statuses after which nothing more happens. */
export const FINAL_STATUSES: ReadonlySet<CampaignStatus> = new Set(['completed', 'cancelled']);

const count = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
const duplicatesOf = (r: ImportResult) =>
  Array.isArray(r.duplicates) ? r.duplicates.length : Number(r.duplicates ?? 0);

/** The import report: totals, then one line per rejected row naming the row, the column and why. */
export function formatImport(result: ImportResult, maxRows = 50): string {
  const duplicates = duplicatesOf(result);
  const rejected = Math.max(result.rejected_count ?? 0, result.rejected.length);
  const lines = [
    `imported ${count(result.accepted, 'recipient')}; ${rejected.toLocaleString('en')} rejected; ${count(duplicates, 'duplicate')} skipped`,
  ];
  const shown = result.rejected.slice(0, maxRows);
  if (shown.length > 0) lines.push('rejected rows (numbered from the first row after the header):');
  for (const r of shown) lines.push(`  row ${r.row}${r.column ? `, ${r.column}` : ''}: ${r.reason}`);
  if (rejected > shown.length) lines.push(`  … and ${rejected - shown.length} more rejected rows`);
  return lines.join('\n');
}

/** An amount in minor units as the currency writes it in major units: 123456 USD → "1,234.56 USD". */
export function formatMinor(minor: number, currency: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  const major = (minor / 10 ** exponent).toLocaleString('en', {
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  return `${major} ${currency}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

const percent = (rate: number) => `${(rate * 100).toFixed(1)} %`;

export function formatCollected(collected: Record<string, number> | undefined): string {
  const entries = Object.entries(collected ?? {}).filter(([, v]) => v > 0);
  return entries.length ? entries.map(([cur, v]) => formatMinor(v, cur)).join(', ') : 'nothing yet';
}

/** When a scheduled campaign sends, in words. */
export function describeSchedule(schedule: CampaignSchedule | null | undefined): string | undefined {
  if (!schedule) return undefined;
  if ('start_at' in schedule) return `sends from ${schedule.start_at}`;
  const { date, time } = schedule.send_at_local;
  return `sends on ${date} at ${time} in each recipient's own time zone`;
}

/** Recipients who will get no link: refused by the link's rules, or cancelled with the campaign. */
function notCreated(p: ProgressJson): string {
  const failed = p.recipients_by_status?.failed ?? 0;
  const cancelled = p.recipients_by_status?.cancelled ?? 0;
  const parts = [failed ? `${failed} failed` : '', cancelled ? `${cancelled} cancelled` : ''].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** `show`'s links line: what is made, what failed, who still waits for their send time. */
function linksLine(p: ProgressJson): string {
  const waiting = p.recipients_by_status?.pending ?? 0;
  const made = `${p.links_created.toLocaleString('en')} created of ${p.recipients.toLocaleString('en')}`;
  return `${made}${notCreated(p)}${waiting ? `, ${waiting.toLocaleString('en')} waiting for their send time` : ''}`;
}

/** `campaigns show`: one readable block. */
export function formatCampaign(c: CampaignJson): string {
  const p = c.progress;
  const rows: [string, string | undefined][] = [
    ['id', c.id],
    ['name', c.name],
    ['status', c.status],
    ['schedule', describeSchedule(c.schedule)],
    ['recipients', p.recipients.toLocaleString('en')],
    ['links', linksLine(p)],
    [
      'messages',
      `${p.messages_sent.toLocaleString('en')} sent, ${p.messages_delivered.toLocaleString('en')} delivered, ${p.messages_failed.toLocaleString('en')} failed`,
    ],
    ['viewed', p.links_viewed.toLocaleString('en')],
    [
      'paid',
      `${p.links_paid.toLocaleString('en')}${p.conversion_rate === null ? '' : ` (${percent(p.conversion_rate)} conversion)`}`,
    ],
    ['collected', formatCollected(p.amount_collected)],
    [
      'time to pay',
      p.median_time_to_pay_seconds === null
        ? undefined
        : `${formatDuration(p.median_time_to_pay_seconds)} (median)`,
    ],
  ];
  return rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `${k.padEnd(12)} ${v}`)
    .join('\n');
}

/** One line of progress, for a log or a pipe (no terminal to redraw a bar on). */
export function formatProgressLine(c: CampaignJson, elapsedSeconds: number): string {
  const p = c.progress;
  return [
    `[${formatDuration(elapsedSeconds).padStart(8)}]`,
    c.status.padEnd(9),
    `links ${p.links_created}/${p.recipients}`,
    `sent ${p.messages_sent}`,
    `failed ${p.messages_failed}`,
    `paid ${p.links_paid}`,
  ].join('  ');
}

/** Every recipient has a link (or was given up on): the run itself has nothing left to do. */
export function allLinksCreated(c: CampaignJson): boolean {
  const p = c.progress;
  if (p.recipients === 0) return false;
  if (p.recipients_by_status) return (p.recipients_by_status.pending ?? 0) === 0;
  return p.links_created >= p.recipients;
}

/** The final line of a watch. */
export function formatOutcome(c: CampaignJson): string {
  const p = c.progress;
  const totals = `${count(p.links_created, 'link')} created for ${count(p.recipients, 'recipient')}${notCreated(p)}, ${count(p.messages_sent, 'message')} sent (${p.messages_failed} failed), ${p.links_paid} paid`;
  switch (c.status) {
    case 'completed':
      return `campaign ${c.id} completed: ${totals}`;
    case 'cancelled':
      return `campaign ${c.id} cancelled: ${totals}`;
    case 'paused':
      return `campaign ${c.id} is paused: ${totals}; resume with \`paylinks campaigns resume ${c.id}\``;
    case 'scheduled':
      return `campaign ${c.id} is scheduled: ${describeSchedule(c.schedule) ?? 'sends at its start time'}; follow it with \`paylinks campaigns show ${c.id}\``;
    default:
      return `campaign ${c.id} is ${c.status}: ${totals}; the links are out, payments keep coming in (\`paylinks campaigns show ${c.id}\`)`;
  }
}

/** The final line of a watch left while recipients wait for their send time (quiet hours, local time). */
export function formatWaiting(c: CampaignJson, pending: number, nextSendAt: string): string {
  const p = c.progress;
  return `campaign ${c.id} is ${c.status}: ${count(p.links_created, 'link')} created${notCreated(p)}; ${count(pending, 'recipient')} wait for their send time (quiet hours or local time), the next at ${nextSendAt}; follow it with \`paylinks campaigns show ${c.id}\``;
}
