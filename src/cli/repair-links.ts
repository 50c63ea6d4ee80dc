/** `paylinks links repair [LINK_ID…|--all]`: see src/links/repair.ts. */
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../workflows/payment-link/contract';
import { loadConfig } from '../config';
import type { Db } from '../db/knex';
import { createLinkRepair, type RepairResult } from '../links/repair';
import { temporalAccessOf, temporalConnectionOptions } from '../temporal/connection-options';
import { payloadDataConverter } from '../temporal/payload-codec';

const DESCRIBE: Record<RepairResult['action'], string> = {
  running: 'running; nothing to do',
  resumed: 'resumed from its stored state',
  expired: 'past its expiry; closed as expired',
  closed: 'already closed; nothing to do',
  not_found: 'no such payment link',
};

const line = (r: RepairResult) =>
  `${r.linkId}  ${r.action}  ${DESCRIBE[r.action]}${
    r.workflowStatus && r.action !== 'running' ? ` (its workflow was ${r.workflowStatus})` : ''
  }`;

export function repairCommand(
  withDb: <T>(work: (db: Db) => Promise<T>) => Promise<T>,
  fail: (message: string) => never,
): Command {
  const links = new Command('links').description('payment links: operator repairs');
  links
    .command('repair')
    .argument('[link_ids...]', 'the links to repair')
    .option('--all', 'every open link (active or partially paid) of every account')
    .option('--json', 'print a JSON array of {"link_id","action","workflow_status"}')
    .description(
      'give links whose row is open but whose workflow is not running their lifecycle back: resumed from the row, or closed as expired when past their expiry',
    )
    .action(async (linkIds: string[], opts: { all?: boolean; json?: boolean }) => {
      if ((opts.all ?? false) === linkIds.length > 0)
        fail('name the links to repair, or pass --all (not both)');
      const config = loadConfig();
      // The engine's Temporal settings, TLS and API key included (Temporal Cloud).
      const connection = await Connection.connect(
        temporalConnectionOptions(
          temporalAccessOf(config.temporal, config.temporal.address ?? `127.0.0.1:${config.temporal.port}`),
        ),
      );
      try {
        const temporal = new Client({
          connection,
          namespace: config.temporal.namespace,
          dataConverter: payloadDataConverter(config.payloadCodec.keys, config.payloadCodec),
        });
        const results = await withDb(async (db) => {
          const repair = createLinkRepair({
            db,
            temporal,
            taskQueue: config.temporal.taskQueue,
            settings: DEFAULT_LIFECYCLE_SETTINGS,
          });
          if (opts.all) return repair.repairAll();
          const done: RepairResult[] = [];
          for (const id of linkIds) done.push(await repair.repairOne(id));
          return done;
        });
        if (opts.json) {
          console.log(
            JSON.stringify(
              results.map((r) => ({
                link_id: r.linkId,
                action: r.action,
                workflow_status: r.workflowStatus ?? null,
              })),
            ),
          );
        } else console.log(results.length ? results.map(line).join('\n') : 'no open payment links');
        if (results.some((r) => r.action === 'not_found')) process.exitCode = 1;
      } finally {
        await connection.close();
      }
    });
  return links;
}
