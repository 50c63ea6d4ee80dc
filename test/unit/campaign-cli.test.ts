/** What `paylinks campaigns` sends and prints, without a stack: options → request, answers → text. */
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/api-client';
import {
  allLinksCreated,
  type CampaignJson,
  formatCampaign,
  formatImport,
  formatMinor,
  formatProgressLine,
  type ProgressJson,
} from '../../src/cli/campaign-format';
import { campaignRequest } from '../../src/cli/campaigns';

const options = (over: Partial<Parameters<typeof campaignRequest>[0]> = {}) => ({
  name: 'Dues',
  file: 'recipients.csv',
  amount: '25.50',
  currency: 'eur',
  channels: 'email',
  start: true,
  ...over,
});

describe('campaignRequest', () => {
  it('turns the amount typed in the currency unit into minor units, by the currency exponent', () => {
    expect(campaignRequest(options()).link).toMatchObject({ amount: 2550, currency: 'EUR' });
    expect(campaignRequest(options({ amount: '1,000', currency: 'JPY' })).link).toMatchObject({
      amount: 1000,
      currency: 'JPY',
    });
    expect(campaignRequest(options({ amount: '1.234', currency: 'KWD' })).link).toMatchObject({
      amount: 1234,
    });
    expect(() => campaignRequest(options({ amount: '1.5', currency: 'JPY' }))).toThrow(
      '--amount: JPY has 0 decimals at most ("1.5")',
    );
    for (const amount of ['0', '-3', 'ten', ''])
      expect(() => campaignRequest(options({ amount }))).toThrow(/^--amount: /);
    expect(() => campaignRequest(options({ currency: 'XXX' }))).toThrow(/^--currency: "XXX" is not/);
  });

  it('builds the template, the schedule, the throttle and the quiet hours from the options', () => {
    expect(
      campaignRequest(
        options({
          description: 'Dues for {name}',
          channels: 'email, sms',
          expiresIn: 'P14D',
          quietHours: '22:00-07:30',
          sendAtLocal: '2027-01-15T10:00',
          perSecond: '2.5',
        }),
      ),
    ).toEqual({
      name: 'Dues',
      link: {
        amount: 2550,
        currency: 'EUR',
        description: 'Dues for {name}',
        channels: ['email', 'sms'],
        expires_in: 'P14D',
        quiet_hours: { start: '22:00', end: '07:30' },
      },
      schedule: { send_at_local: { date: '2027-01-15', time: '10:00' } },
      throttle: { links_per_second: 2.5, email_per_second: 2.5, sms_per_second: 2.5 },
    });
    expect(campaignRequest(options({ quietHours: 'none' })).link).toMatchObject({ quiet_hours: null });
    expect(campaignRequest(options({ startAt: '2027-01-15T10:00:00+01:00' })).schedule).toEqual({
      start_at: '2027-01-15T09:00:00.000Z',
    });
    // Nothing given: the API's defaults (start now, no throttle of the campaign's own).
    const plain = campaignRequest(options());
    expect(plain).not.toHaveProperty('schedule');
    expect(plain).not.toHaveProperty('throttle');
  });

  it('names the option of every mistake it can see before calling the API', () => {
    const cases: [Partial<Parameters<typeof campaignRequest>[0]>, RegExp][] = [
      [{ channels: 'email,fax' }, /^--channels: "fax" is not email or sms$/],
      [{ sendAtLocal: '2027-02-30T10:00' }, /^--send-at-local: "2027-02-30T10:00" is not/],
      [{ sendAtLocal: '10:00' }, /^--send-at-local: /],
      [{ startAt: '2027-01-15T10:00' }, /^--start-at: .*with its offset/],
      [{ startAt: 'tomorrow' }, /^--start-at: /],
      [
        { sendAtLocal: '2027-01-15T10:00', startAt: '2027-01-15T10:00Z' },
        /^--send-at-local: give it or --start-at, not both$/,
      ],
      [{ perSecond: '0' }, /^--per-second: "0" is not a positive number$/],
      [{ quietHours: '9pm-8am' }, /^--quiet-hours: "9pm-8am" is not a window such as 21:00-08:00, or none$/],
    ];
    for (const [over, message] of cases) {
      let thrown: unknown;
      try {
        campaignRequest(options(over));
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(over)).toBeInstanceOf(CliError);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});

const progress = (over: Partial<ProgressJson> = {}): ProgressJson => ({
  recipients: 1200,
  links_created: 1000,
  messages_sent: 990,
  messages_delivered: 400,
  messages_failed: 3,
  links_viewed: 500,
  links_paid: 250,
  amount_collected: { EUR: 1_234_550, JPY: 98_000 },
  conversion_rate: 0.2525,
  median_time_to_pay_seconds: 5400.4,
  recipients_by_status: { pending: 150, created: 1000, failed: 50, cancelled: 0 },
  ...over,
});
const campaign = (over: Partial<CampaignJson> = {}): CampaignJson => ({
  id: 'cmp_1',
  object: 'campaign',
  name: 'Winter dues',
  status: 'running',
  schedule: { send_at_local: { date: '2027-01-15', time: '10:00' } },
  progress: progress(),
  ...over,
});

describe('what the CLI prints', () => {
  it('the import report: totals, each listed row, and how many more were not listed', () => {
    expect(
      formatImport({
        accepted: 1500,
        rejected: [
          { row: 2, column: 'email', reason: 'Invalid email address' },
          { row: 9, column: null, reason: 'has 7 fields; the header has 6' },
        ],
        rejected_count: 5,
        duplicates: 1,
      }),
    ).toBe(
      [
        'imported 1,500 recipients; 5 rejected; 1 duplicate skipped',
        'rejected rows (numbered from the first row after the header):',
        '  row 2, email: Invalid email address',
        '  row 9: has 7 fields; the header has 6',
        '  … and 3 more rejected rows',
      ].join('\n'),
    );
    expect(formatImport({ accepted: 1, rejected: [], duplicates: 0 })).toBe(
      'imported 1 recipient; 0 rejected; 0 duplicates skipped',
    );
  });

  it('show: one block, money in major units per currency, the median as a duration', () => {
    expect(formatCampaign(campaign())).toBe(
      [
        'id           cmp_1',
        'name         Winter dues',
        'status       running',
        "schedule     sends on 2027-01-15 at 10:00 in each recipient's own time zone",
        'recipients   1,200',
        'links        1,000 created of 1,200 (50 failed), 150 waiting for their send time',
        'messages     990 sent, 400 delivered, 3 failed',
        'viewed       500',
        'paid         250 (25.3 % conversion)',
        'collected    12,345.50 EUR, 98,000 JPY',
        'time to pay  1 h 30 min (median)',
      ].join('\n'),
    );
    expect(formatMinor(5, 'KWD')).toBe('0.005 KWD');
  });

  it('a progress line, and when the run has nothing left to create', () => {
    expect(formatProgressLine(campaign(), 75)).toBe(
      '[1 min 15 s]  running    links 1000/1200  sent 990  failed 3  paid 250',
    );
    expect(allLinksCreated(campaign())).toBe(false);
    const done = progress({ recipients_by_status: { pending: 0, created: 1150, failed: 50, cancelled: 0 } });
    expect(allLinksCreated(campaign({ progress: done }))).toBe(true);
    // Without the per-status counts: every recipient has a link.
    const { recipients_by_status: _, ...contractOnly } = progress({ links_created: 1200 });
    expect(allLinksCreated(campaign({ progress: contractOnly }))).toBe(true);
  });
});
