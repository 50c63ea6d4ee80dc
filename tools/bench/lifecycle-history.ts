/**
 * Measures the canonical lifecycle's Temporal footprint from a real history:
 * created → sent by email and SMS → one reminder (both channels) → paid in full.
 *
 *   npm run bench:history            # starts its own dev server and database
 *
 * Prints every history event, the count by type, and the billable actions by Temporal
 * Cloud's rules (tools/bench/support/lifecycle.ts: workflow start, timer started, search-attribute
 * upsert other than the SDK's `TemporalChangeVersion`, signal, accepted update, activity attempt,
 * the local activities of one workflow task together). `npm run bench` reports the same totals.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startBenchInfra } from './support/infra';
import { measureLifecycleHistory } from './support/lifecycle';

Runtime.install({ logger: new DefaultLogger('WARN') });
const infra = await startBenchInfra();
try {
  const h = await measureLifecycleHistory({ address: infra.temporalAddress, databaseUrl: infra.databaseUrl });
  console.log('\n| # | event | detail | actions |\n| --- | --- | --- | --- |');
  for (const e of h.events) console.log(`| ${e.id} | ${e.type} | ${e.detail} | ${e.actions || ''} |`);
  console.log('\n| event type | events | actions |\n| --- | --- | --- |');
  for (const t of h.byType) console.log(`| ${t.type} | ${t.events} | ${t.actions} |`);
  console.log(
    `\ncanonical lifecycle: ${h.historyEvents} history events, ${h.billableActions} billable actions`,
  );
} finally {
  await infra.stop();
}
