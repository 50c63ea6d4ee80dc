/**
 * `paylinks campaigns …` as an operator runs it, against the real stack (API, worker, Postgres,
 * Temporal, SMTP): a CSV with a bad row is imported and reported row by row, the run is followed
 * to its end, and pause / resume / cancel / show steer and read it. Output is piped (no
 * terminal), so progress comes as plain lines.
 */
import { type ExecFileException, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { campaignRow, linksOf, recipientsOf, untilCampaignStatus, untilLinks } from '../helpers/campaigns';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let dir: string;
beforeAll(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'paylinks-campaigns-cli-'));
});
afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The package's bin, as an operator runs it; resolves with the exit code instead of throwing. */
function paylinks(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(PROJECT_ROOT, 'bin/paylinks.js'), 'campaigns', ...args],
      {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          PAYLINKS_API_URL: stack.baseUrl,
          PAYLINKS_API_KEY: stack.account.apiKey,
          LOG_LEVEL: 'silent',
        },
      },
      (err: ExecFileException | null, stdout, stderr) =>
        done({ code: err ? Number(err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

let files = 0;
async function csvFile(lines: string[]): Promise<string> {
  files += 1;
  const file = join(dir, `recipients-${files}.csv`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

const campaignIdOf = (stdout: string) => {
  const id = /^created campaign (cmp_[\w-]+)/m.exec(stdout)?.[1];
  expect(id, stdout).toBeDefined();
  return id as string;
};

const people = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i + 1},${prefix.toLowerCase()}${i + 1}@example.com`);

describe('paylinks campaigns create', () => {
  it('imports a CSV with a bad row and a duplicate, reports them, runs the campaign to completed', async () => {
    const file = await csvFile([
      'name,email',
      ...people('Cora', 2),
      'Bad Row,not-an-email',
      ...people('Cora', 4).slice(2),
      'Cora again,CORA1@example.com',
    ]);
    const run = await paylinks(
      'create',
      '--name',
      'Club dues',
      '--file',
      file,
      '--amount',
      '25.50',
      '--currency',
      'eur',
      '--description',
      'Club dues 2027',
      '--per-second',
      '5',
      // What this test checks is the import and the run, not the night: nobody is deferred.
      '--quiet-hours',
      'none',
    );
    expect(run.code, run.stderr).toBe(0);
    const id = campaignIdOf(run.stdout);
    const out = run.stdout;
    expect(out).toContain(`created campaign ${id} "Club dues": 25.50 EUR per link`);
    expect(out).toContain('imported 4 recipients; 1 rejected; 1 duplicate skipped');
    expect(out).toMatch(/^ {2}row 3, email: \S.*$/m);
    expect(out).toMatch(new RegExp(`^started campaign ${id} \\((scheduled|running)\\)$`, 'm'));
    // Plain progress lines (no terminal), the last with every link.
    const lines = out.split('\n').filter((l) => /^\[ *\S+ \S+\] {2}\w+ +links \d+\/4/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(/links 4\/4 {2}sent \d+ {2}failed 0 {2}paid 0$/);
    expect(out).toMatch(
      new RegExp(`^campaign ${id} (completed|is running): 4 links created for 4 recipients`, 'm'),
    );
    expect(run.stderr).toBe('');

    await untilCampaignStatus(stack.db, id, 'completed');
    const campaign = await campaignRow(stack.db, id);
    expect(campaign).toMatchObject({
      name: 'Club dues',
      throttle: { links_per_second: 5, email_per_second: 5, sms_per_second: 5 },
    });
    expect(campaign.link).toMatchObject({
      amount: 2550,
      currency: 'EUR',
      description: 'Club dues 2027',
      channels: ['email'],
    });
    const links = await linksOf(stack.db, id);
    expect(links.map((l) => l.customer.email).sort()).toEqual(
      ['cora1@example.com', 'cora2@example.com', 'cora3@example.com', 'cora4@example.com'].sort(),
    );
    await eventually(
      async () =>
        [1, 2, 3, 4].every((i) =>
          stack.peers.smtp.messages.some((m) => m.envelopeTo.includes(`cora${i}@example.com`)),
        )
          ? true
          : undefined,
      WAIT_MS,
      'an email to every imported recipient',
    );
    expect(stack.peers.smtp.messages.some((m) => m.envelopeTo.includes('not-an-email'))).toBe(false);

    const show = await paylinks('show', id);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`id           ${id}`);
    expect(show.stdout).toContain('name         Club dues');
    expect(show.stdout).toContain('status       completed');
    expect(show.stdout).toContain('links        4 created of 4');
    expect(show.stdout).toMatch(/^messages +4 sent, \d+ delivered, 0 failed$/m);
    expect(show.stdout).toContain('collected    nothing yet');
    const json = JSON.parse((await paylinks('show', id, '--json')).stdout);
    expect(json).toMatchObject({
      id,
      object: 'campaign',
      status: 'completed',
      progress: { recipients: 4, links_created: 4, messages_sent: 4, links_paid: 0 },
    });
  });

  it('a campaign sent at a local time says when it sends and leaves it scheduled', async () => {
    const file = await csvFile([
      'email,timezone',
      'sam1@example.com,Europe/Paris',
      'sam2@example.com,Asia/Tokyo',
    ]);
    const date = DateTime.utc().plus({ days: 3 }).toISODate();
    const run = await paylinks(
      'create',
      '--name',
      'Later',
      '--file',
      file,
      '--amount',
      '10',
      '--currency',
      'USD',
      '--send-at-local',
      `${date}T10:00`,
    );
    expect(run.code, run.stderr).toBe(0);
    const id = campaignIdOf(run.stdout);
    expect(run.stdout).toContain(
      `campaign ${id} is scheduled: sends on ${date} at 10:00 in each recipient's own time zone`,
    );
    expect((await campaignRow(stack.db, id)).status).toBe('scheduled');
    expect(await linksOf(stack.db, id)).toEqual([]);

    const cancelled = await paylinks('cancel', id);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled campaign ${id} (cancelled)\n`);
  });

  it('leaves a campaign whose recipients are in their quiet hours to run, saying when the next goes', async () => {
    // A quiet window around now in the recipients' zone: nobody may be sent to for two hours.
    const zone = TEST_ACCOUNT_ZONE;
    const now = DateTime.utc().setZone(zone);
    const hhmm = (t: DateTime) => t.toFormat('HH:mm');
    const end = now.plus({ hours: 2 }).startOf('minute');
    const file = await csvFile([
      'email,timezone',
      `quinn1@example.com,${zone}`,
      `quinn2@example.com,${zone}`,
    ]);
    const run = await paylinks(
      'create',
      '--name',
      'Night',
      '--file',
      file,
      '--amount',
      '10',
      '--currency',
      'EUR',
      '--quiet-hours',
      `${hhmm(now.minus({ hours: 1 }))}-${hhmm(end)}`,
    );
    expect(run.code, run.stderr).toBe(0);
    const id = campaignIdOf(run.stdout);
    const waiting = new RegExp(
      `^campaign ${id} is (running|scheduled): 0 links created; 2 recipients wait for their send time \\(quiet hours or local time\\), the next at (\\S+); follow it with \`paylinks campaigns show ${id}\`$`,
      'm',
    ).exec(run.stdout);
    expect(waiting, run.stdout).not.toBeNull();
    expect(Date.parse(waiting?.[2] as string)).toBe(end.toMillis());
    expect(await linksOf(stack.db, id)).toEqual([]);
    const show = await paylinks('show', id);
    expect(show.stdout).toContain('links        0 created of 2, 2 waiting for their send time');
    expect((await paylinks('cancel', id)).code).toBe(0);
  });

  it('--no-start imports and leaves a draft', async () => {
    const file = await csvFile(['email', 'nora@example.com']);
    const run = await paylinks(
      'create',
      '--name',
      'Draft',
      '--file',
      file,
      '--amount',
      '5',
      '--currency',
      'GBP',
      '--no-start',
    );
    expect(run.code, run.stderr).toBe(0);
    const id = campaignIdOf(run.stdout);
    expect(run.stdout).toContain(
      `campaign ${id} is a draft; start it with \`paylinks campaigns start ${id}\``,
    );
    expect((await campaignRow(stack.db, id)).status).toBe('draft');
    expect(await recipientsOf(stack.db, id)).toHaveLength(1);
  });
});

describe('steering a running campaign', () => {
  // At 2 links a second the campaign lasts a minute: room for the CLI's starts on a loaded
  // machine before the pause, so the pause still finds links left to hold back.
  const PIA = 120;
  it('pause stops it (and the watching start), resume goes on, cancel --cancel-links cancels the links sent', async () => {
    const file = await csvFile(['name,email', ...people('Pia', PIA)]);
    const created = await paylinks(
      'create',
      '--name',
      'Slow one',
      '--file',
      file,
      '--amount',
      '3',
      '--currency',
      'EUR',
      '--per-second',
      '2',
      '--quiet-hours',
      'none',
      '--no-start',
    );
    expect(created.code, created.stderr).toBe(0);
    const id = campaignIdOf(created.stdout);

    // `start` follows the run; a pause from another terminal ends its watch.
    const watching = paylinks('start', id);
    await untilLinks(stack.db, id, 2);
    const paused = await paylinks('pause', id);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toBe(`paused campaign ${id} (paused)\n`);
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`^started campaign ${id} \\((scheduled|running)\\)$`, 'm'));
    expect(watched.stdout).toMatch(
      new RegExp(`^campaign ${id} is paused: .*resume with \`paylinks campaigns resume ${id}\`$`, 'm'),
    );

    const whilePaused = await paylinks('show', id);
    expect(whilePaused.stdout).toContain('status       paused');
    const madeWhilePaused = (await linksOf(stack.db, id)).length;
    expect(madeWhilePaused).toBeLessThan(PIA);

    const resumed = await paylinks('resume', id, '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ id, status: 'running' });
    await untilLinks(stack.db, id, madeWhilePaused + 1);

    const cancelled = await paylinks('cancel', id, '--cancel-links');
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled campaign ${id} (cancelled); its open links are cancelled\n`);
    await eventually(
      async () => {
        const links = await linksOf(stack.db, id);
        return links.length > 0 && links.every((l) => l.status === 'cancelled') ? links : undefined;
      },
      WAIT_MS,
      'every link of the campaign to be cancelled',
    );
    const show = JSON.parse((await paylinks('show', id, '--json')).stdout);
    expect(show.status).toBe('cancelled');
    expect(show.progress.links_created).toBeLessThan(PIA);

    // A cancelled campaign cannot be resumed: the API's 409, one line, non-zero.
    const again = await paylinks('resume', id);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/^409 \S+: /);
  });
});

describe('refusals', () => {
  const base = (file: string) => ['--name', 'Refused', '--file', file, '--amount', '10', '--currency', 'EUR'];

  it("the API's 400 is one line naming the option and the field; nothing is created", async () => {
    const file = await csvFile(['email', 'rita@example.com']);
    const before = await stack
      .db('campaigns')
      .where({ account_id: stack.account.accountId, name: 'Refused' });
    expect(before).toEqual([]);

    const past = await paylinks('create', ...base(file), '--start-at', '2020-01-01T09:00:00Z');
    expect(past.code).not.toBe(0);
    expect(past.stdout).toBe('');
    expect(past.stderr.trim().split('\n')).toHaveLength(1);
    expect(past.stderr).toMatch(/^--start-at: 400 \S+: .*\(schedule\.start_at\)$/m);

    const expiry = await paylinks('create', ...base(file), '--expires-in', 'P2Y');
    expect(expiry.code).not.toBe(0);
    expect(expiry.stderr.trim().split('\n')).toHaveLength(1);
    expect(expiry.stderr).toMatch(/^--expires-in: 400 \S+: .*\(link\.expires_in\)$/m);

    expect(
      await stack.db('campaigns').where({ account_id: stack.account.accountId, name: 'Refused' }),
    ).toEqual([]);
  });

  it('a mistake the CLI sees itself names the option and calls nothing', async () => {
    const file = await csvFile(['email', 'rita@example.com']);
    const cases: [string[], RegExp][] = [
      [['--amount', '10.555'], /^--amount: EUR has 2 decimals at most \("10\.555"\)$/],
      [['--amount', 'ten'], /^--amount: "ten" is not a positive amount/],
      [['--currency', 'EURO'], /^--currency: "EURO" is not an ISO 4217 currency code/],
      [['--channels', 'email,fax'], /^--channels: "fax" is not email or sms$/],
      [['--send-at-local', '2027-13-01T10:00'], /^--send-at-local: "2027-13-01T10:00" is not a local date/],
      [['--file', join(dir, 'missing.csv')], /^--file: cannot read .*missing\.csv/],
    ];
    for (const [override, message] of cases) {
      const args = [...base(file)];
      for (let i = 0; i < override.length; i += 2) {
        const at = args.indexOf(override[i] as string);
        if (at >= 0) args[at + 1] = override[i + 1] as string;
        else args.push(override[i] as string, override[i + 1] as string);
      }
      const run = await paylinks('create', ...args);
      expect(run.code, override.join(' ')).not.toBe(0);
      expect(run.stderr.trim()).toMatch(message);
    }
    expect(
      await stack.db('campaigns').where({ account_id: stack.account.accountId, name: 'Refused' }),
    ).toEqual([]);
  });

  it('a file whose rows are all refused leaves the campaign a draft and exits non-zero', async () => {
    const file = await csvFile(['email', 'nope', 'also-nope']);
    const run = await paylinks('create', ...base(file), '--name', 'All bad');
    expect(run.code).not.toBe(0);
    const id = campaignIdOf(run.stdout);
    expect(run.stdout).toContain('imported 0 recipients; 2 rejected; 0 duplicates skipped');
    expect(run.stderr.trim()).toBe(`--file: no recipient could be imported; campaign ${id} stays a draft`);
    expect((await campaignRow(stack.db, id)).status).toBe('draft');
  });

  it('an unknown campaign is a 404 in one line', async () => {
    const run = await paylinks('show', 'cmp_doesnotexist0000000000');
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim()).toMatch(/^404 \S+: /);
  });
});
