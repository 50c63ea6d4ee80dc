/**
 * `npm run chaos [-- --part fuzz] [-- --seed 42 --requests 5000 --links 200 …]`: the fault suite of
 * issue 15. Each part starts what it needs (a scratch database, a Temporal dev server, the API
 * and worker as real processes, SMTP/SMS sinks outside them), breaks something on purpose and
 * checks from Postgres, Temporal and the sinks that nothing was lost, doubled or stranded. One
 * JSON line per part on stdout; the exit code is non-zero when any part failed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Part, PartResult } from './part';

/** In order. A part whose module is not there (yet) is reported as skipped, not as a failure. */
export const PARTS = ['kills', 'stranded', 'db-cut', 'callbacks', 'fuzz', 'money'] as const;

function chosenParts(): string[] {
  const at = process.argv.indexOf('--part');
  if (at < 0) return [...PARTS];
  const wanted = (process.argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = wanted.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (wanted.length === 0 || unknown.length > 0)
    throw new Error(`--part takes one or more of ${PARTS.join(', ')} (comma-separated), got '${wanted}'`);
  return wanted;
}

async function runPart(name: string): Promise<PartResult | undefined> {
  const file = fileURLToPath(new URL(`./parts/${name}.ts`, import.meta.url));
  if (!existsSync(file)) return undefined;
  const started = Date.now();
  try {
    const part = (await import(file)) as Part;
    const result = await part.run();
    return { ...result, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } catch (err) {
    // A part that could not even run has failed; its error is the failure.
    return {
      part: name,
      ok: false,
      failures: [`the part crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`],
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  }
}

if (process.argv.includes('--help')) {
  console.log(`npm run chaos [-- --part ${PARTS.join(',')}] [-- --seed N --requests N --links N …]
The fault suite: each part starts the engine as real processes, breaks it, and checks nothing was
lost, doubled or stranded. One JSON line per part; non-zero exit when any part failed.
Parts, sizes and how to replay a failure: docs/FAULT-SUITE.md.`);
  process.exit(0);
}

// Ctrl-C: exit through 'exit', whose handlers kill the engine processes a part started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

let failed = false;
for (const name of chosenParts()) {
  console.error(`chaos: part ${name}…`);
  const result = await runPart(name);
  if (!result && process.argv.includes('--part')) {
    // Asked for by name: a part that is not there cannot pass.
    failed = true;
    console.log(
      JSON.stringify({ part: name, ok: false, failures: [`tools/chaos/parts/${name}.ts is not there`] }),
    );
    continue;
  }
  if (!result) {
    console.log(
      JSON.stringify({ part: name, ok: true, skipped: `tools/chaos/parts/${name}.ts is not there` }),
    );
    continue;
  }
  if (!result.ok) failed = true;
  console.log(JSON.stringify(result));
}
// Clients and pools of the parts are closed by them; exit explicitly all the same so that a
// stray handle cannot keep a finished run alive.
process.exit(failed ? 1 : 0);
