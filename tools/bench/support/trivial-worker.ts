/**
 * The baseline's worker, a process of its own like the Paylinks worker: runs `benchTrivial` on
 * BENCH_TRIVIAL_QUEUE with the same payload codec (PAYLOAD_CODEC_KEYS) and Temporal address.
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { parseCodecKeys, payloadDataConverter } from '../../../src/temporal/payload-codec';

const { TEMPORAL_ADDRESS, BENCH_TRIVIAL_QUEUE, PAYLOAD_CODEC_KEYS } = process.env;
if (!TEMPORAL_ADDRESS || !BENCH_TRIVIAL_QUEUE || !PAYLOAD_CODEC_KEYS)
  throw new Error('TEMPORAL_ADDRESS, BENCH_TRIVIAL_QUEUE and PAYLOAD_CODEC_KEYS are required');

Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
const worker = await Worker.create({
  connection,
  taskQueue: BENCH_TRIVIAL_QUEUE,
  dataConverter: payloadDataConverter(parseCodecKeys(PAYLOAD_CODEC_KEYS)),
  workflowsPath: fileURLToPath(new URL('./trivial-workflow.ts', import.meta.url)),
});
// The SDK drains the worker on SIGINT/SIGTERM.
await worker.run();
await connection.close();
