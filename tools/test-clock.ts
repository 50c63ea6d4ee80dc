/**
 * `npm run test:clock [-- files…]`: the time-sensitive test files at three positions of "now".
 * Each run puts the tests' accounts (and so every customer and recipient without a zone of its
 * own) in a fixed-offset zone where local now is 02:00 (inside the default quiet hours), 12:00
 * (outside them) and 23:30 (quiet, and a local date that ends within the run). A test that leans
 * on a default time policy, or on "today" in UTC, fails at one of them; run it before stopping.
 * The exit code is non-zero when any position fails.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { zoneWhereLocalTimeIs } from '../test/helpers/clock';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Files whose outcome depends on local time or date: sending, schedules, reports by day. */
const TIME_SENSITIVE = [
  'test/unit/reminders.test.ts',
  'test/unit/campaign-send-times.test.ts',
  'test/unit/invoice-schedule.test.ts',
  'test/integration/campaigns-cli.test.ts',
  'test/integration/campaigns-api.test.ts',
  'test/integration/campaign-runs.test.ts',
  'test/integration/campaign-schedule.test.ts',
  'test/integration/notifications.test.ts',
  'test/integration/analytics.test.ts',
  'test/integration/journey.test.ts',
  'test/integration/platform.test.ts',
  'test/integration/management-api.test.ts',
  'test/integration/operator-tools.test.ts',
  'test/workflow/lifecycle.test.ts',
  'test/workflow/precomputed-instants.test.ts',
];

const POSITIONS = ['02:00', '12:00', '23:30'];

interface Outcome {
  position: string;
  zone: string;
  localNow: string;
  code: number;
  summary: string;
  seconds: number;
}

function run(position: string, files: string[]): Promise<Outcome> {
  const zone = zoneWhereLocalTimeIs(position);
  const localNow = DateTime.utc().setZone(zone).toFormat("yyyy-MM-dd HH:mm 'UTC'ZZ");
  console.log(`\n== test:clock: local now ${position} → PAYLINKS_TEST_ZONE=${zone} (${localNow})\n`);
  const started = Date.now();
  return new Promise((done) => {
    let tail = '';
    const vitest = spawn(process.execPath, [`${ROOT}node_modules/vitest/vitest.mjs`, 'run', ...files], {
      cwd: ROOT,
      env: { ...process.env, PAYLINKS_TEST_ZONE: zone },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    vitest.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    vitest.on('exit', (code) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: vitest's colours
      const plain = tail.replace(/\u001b\[[0-9;]*m/g, '');
      const summary = ['Test Files', 'Tests']
        .map((label) => new RegExp(`^\\s*${label}\\s+(.+)$`, 'm').exec(plain)?.[1]?.trim())
        .filter(Boolean)
        .join('; ');
      done({ position, zone, localNow, code: code ?? 1, summary, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : TIME_SENSITIVE;
const outcomes: Outcome[] = [];
for (const position of POSITIONS) outcomes.push(await run(position, files));

console.log('\n== test:clock summary');
for (const o of outcomes) {
  console.log(
    `${o.code === 0 ? 'PASS' : 'FAIL'}  local now ${o.position}  ${o.zone.padEnd(17)} ${o.localNow}  ${o.summary}  (${o.seconds.toFixed(0)} s)`,
  );
}
process.exit(outcomes.every((o) => o.code === 0) ? 0 : 1);
