/**
 * What the payload codec costs a link creation: the same creates (workflow start, the workflow
 * storing the link, the API waiting for the row) through a plain client and worker, and through
 * ones with the codec, in alternating rounds on one dev server and one database.
 *
 *   npm run bench:codec            # LINKS=300 by default
 *
 * Prints milliseconds per create for each, their ratio, and the codec's own cost per payload.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { type DataConverter, defaultPayloadConverter } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAccount } from '../../src/accounts/accounts';
import { createCommerceStores } from '../../src/commerce/stores';
import { DEVELOPMENT_PAYLOAD_CODEC_KEYS } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { startDevPeers } from '../../src/dev/peers';
import { CreatePaymentLinkSchema } from '../../src/links/create-link';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore } from '../../src/links/link-store';
import { createLogger } from '../../src/logger';
import { AesGcmPayloadCodec, parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { localChannels, startLocalWorker } from '../../test/helpers/local-worker';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../workflows/payment-link/contract';
import { startBenchInfra } from './support/infra';

const LINKS = Number(process.env.LINKS ?? 300);
const ROUNDS = 6;
const keys = parseCodecKeys(DEVELOPMENT_PAYLOAD_CODEC_KEYS);

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const logger = createLogger('silent');
  // Its own dev server (or TEMPORAL_ADDRESS) and a migrated scratch database.
  const infra = await startBenchInfra();
  const address = infra.temporalAddress;
  const db = createDb(infra.databaseUrl);
  const peers = await startDevPeers();
  const publicBaseUrl = 'http://localhost:3000';
  const channels = localChannels(peers, publicBaseUrl);
  const account = await createAccount(db, 'Bench shop');
  const links = createLinkStore(db);

  /** A worker and a client on their own task queue, with or without the codec. */
  async function setup(dataConverter: DataConverter | undefined) {
    const taskQueue = `bench-codec-${randomBytes(4).toString('hex')}`;
    const worker = await startLocalWorker({
      address,
      db,
      taskQueue,
      channels: { email: channels.email, sms: channels.sms, publicBaseUrl },
      // The worker's option is required: "no codec" is an empty converter.
      dataConverter: dataConverter ?? {},
    });
    const client = new Client({ connection: await Connection.connect({ address }), dataConverter });
    const service = createLinkService({
      temporal: client,
      links,
      taskQueue,
      settings: DEFAULT_LIFECYCLE_SETTINGS,
      createWaitMs: 30_000,
      logger,
      commerce: createCommerceStores(db),
    });
    const body = CreatePaymentLinkSchema.parse({
      amount: 1999,
      currency: 'USD',
      description: 'Order 1042',
      customer: { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+14155550123' },
      expires_in: 'P30D',
    });
    return {
      create: () => service.create({ id: account.accountId, name: 'Bench shop', timezone: 'UTC' }, body),
      async stop() {
        await worker.stop();
        await client.connection.close();
      },
    };
  }

  const plain = await setup(undefined);
  const encrypted = await setup(payloadDataConverter(keys));
  const elapsed = { plain: 0, encrypted: 0 };
  try {
    // Warm-up: bundles loaded, connections open, caches filled.
    for (let i = 0; i < 10; i++) {
      await plain.create();
      await encrypted.create();
    }
    const perRound = Math.ceil(LINKS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating order, so neither side always runs on a warmer machine.
      const order = round % 2 === 0 ? (['plain', 'encrypted'] as const) : (['encrypted', 'plain'] as const);
      for (const side of order) {
        const target = side === 'plain' ? plain : encrypted;
        const started = performance.now();
        for (let i = 0; i < perRound; i++) await target.create();
        elapsed[side] += performance.now() - started;
      }
    }
    const n = perRound * ROUNDS;
    const msPlain = elapsed.plain / n;
    const msEncrypted = elapsed.encrypted / n;

    // The codec alone, on a payload the size of a link's workflow input.
    const codec = new AesGcmPayloadCodec(keys);
    const payload = defaultPayloadConverter.toPayload({
      terms: { customer: { name: 'Ada Lovelace', email: 'ada@example.com' }, pad: 'x'.repeat(1500) },
    });
    const iterations = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) codec.decrypt(codec.encrypt(payload));
    const usPerPayload = ((performance.now() - t0) * 1000) / iterations;

    console.log(`\n| creates | plain ms/create | codec ms/create | ratio |\n| --- | --- | --- | --- |`);
    console.log(
      `| ${n} x 2 | ${msPlain.toFixed(2)} | ${msEncrypted.toFixed(2)} | ${(msEncrypted / msPlain).toFixed(3)} |`,
    );
    console.log(
      `\ncodec alone: ${usPerPayload.toFixed(1)} µs to encrypt and decrypt a ${payload.data?.length}-byte payload`,
    );
  } finally {
    await plain.stop();
    await encrypted.stop();
    await db.destroy();
    channels.close();
    await peers.stop();
    await infra.stop();
  }
}

await main();
