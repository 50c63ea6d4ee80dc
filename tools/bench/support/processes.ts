/**
 * The roles the bench measures, each in a Node process of its own as production runs them
 * (docker-compose.yml: `npm run api`, `npm run worker`), their output appended to one log file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { type DevPeers, startDevPeers } from '../../../src/dev/peers';
import { PROJECT_ROOT } from '../../../src/paths';
import { freePort } from '../../../test/helpers/ports';
import { GiveUp, poll } from '../../../test/helpers/wait';
import type { BenchInfra } from './infra';

export interface Role {
  name: string;
  child: ChildProcess;
  /** SIGTERM (the roles drain and stop on it), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <script>` (one process, no tsx wrapper) with `env`; `nodeArgs` go
 * before it (tools/bench/trace.ts: `--cpu-prof`, which NODE_OPTIONS refuses).
 */
export function startRole(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeArgs: string[] = [],
): Role {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Last resort: whatever way the bench ends, no role outlives it.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    name,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Polls `ready` until it answers true; fails early if the role exits, or after `timeoutMs`. */
export function untilReady(
  role: Role,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
): Promise<true> {
  return poll(
    async () => {
      if (role.child.exitCode !== null || role.child.signalCode !== null)
        throw new GiveUp(
          `${role.name} exited (${role.child.exitCode ?? role.child.signalCode}); see ${logFile}`,
        );
      return (await ready().catch(() => false)) ? true : undefined;
    },
    { timeoutMs, what: `${role.name} to be ready (see ${logFile})`, everyMs: 250 },
  );
}

/** A rate limit no bench reaches: the limiters still run on every request but never refuse. */
export const OUT_OF_REACH = String(1_000_000_000);

/** Every public and account rate limit out of reach (the benches are one client address). */
export const RATE_LIMITS_OUT_OF_REACH: NodeJS.ProcessEnv = {
  RATE_LIMIT_PUBLIC_PER_MINUTE: OUT_OF_REACH,
  RATE_LIMIT_CALLBACKS_PER_MINUTE: OUT_OF_REACH,
  RATE_LIMIT_FAILED_AUTH_PER_MINUTE: OUT_OF_REACH,
  RATE_LIMIT_ACCOUNT_PER_MINUTE: OUT_OF_REACH,
};

export interface ProductionRoleSettings {
  apiPort: number;
  publicBaseUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  codecKeys: string;
  sandboxSecret: string;
  peers: DevPeers;
  logLevel?: string;
}

/**
 * The API's and the worker's environment as production runs them: every secret its own, the codec
 * on, mail and SMS to the local peers, the defaults for everything else (`overrides` on top).
 * Nothing of the caller's own Paylinks settings leaks into the roles.
 */
export function productionRoleEnv(settings: ProductionRoleSettings, overrides: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env))
    if (/^(PAYLINKS_|TEMPORAL_|DB_|METRICS_|CODEC_|RATE_LIMIT_|LINK_|RECONCILE_|EMAIL_|SMS_)/.test(key))
      delete env[key];
  const { peers } = settings;
  return Object.assign(env, {
    NODE_ENV: 'production',
    PORT: String(settings.apiPort),
    PUBLIC_BASE_URL: settings.publicBaseUrl,
    LOG_LEVEL: settings.logLevel ?? 'info',
    LOG_FORMAT: 'json',
    DATABASE_URL: settings.databaseUrl,
    TEMPORAL_ADDRESS: settings.temporalAddress,
    TEMPORAL_TASK_QUEUE: settings.taskQueue,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    PAYLOAD_CODEC_KEYS: settings.codecKeys,
    SANDBOX_ENABLED: 'true',
    SANDBOX_SECRET: settings.sandboxSecret,
    SMTP_URL: peers.smtp.url,
    TWILIO_ACCOUNT_SID: peers.twilio.accountSid,
    TWILIO_AUTH_TOKEN: peers.twilio.authToken,
    TWILIO_FROM: peers.smsFrom,
    TWILIO_API_BASE_URL: peers.twilioBaseUrl,
    ...overrides,
  });
}

export interface ProductionRoles {
  peers: DevPeers;
  apiUrl: string;
  /** Random, shared by the run's task queues and ids. */
  suffix: string;
  taskQueue: string;
  codecKeys: string;
  sandboxSecret: string;
  /** The roles' environment (productionRoleEnv), before each role's own extras. */
  env: NodeJS.ProcessEnv;
}

/**
 * What a bench needs to start the API and the worker as production runs them: the local SMTP
 * server and SMS endpoint (stopped with the infra), a port, fresh secrets and codec keys, and the
 * environment. `name` prefixes the task queue and the codec key id.
 */
export async function productionRoles(
  infra: BenchInfra,
  name: string,
  { logLevel, overrides }: { logLevel?: string; overrides: NodeJS.ProcessEnv },
): Promise<ProductionRoles> {
  const peers = await startDevPeers();
  infra.add('local SMTP server and SMS endpoint', peers.stop);
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const suffix = randomBytes(4).toString('hex');
  const taskQueue = `${name}-${suffix}`;
  const codecKeys = `${name}:${randomBytes(32).toString('base64')}`;
  const sandboxSecret = randomBytes(32).toString('hex');
  const env = productionRoleEnv(
    {
      apiPort,
      publicBaseUrl: apiUrl,
      databaseUrl: infra.databaseUrl,
      temporalAddress: infra.temporalAddress,
      taskQueue,
      codecKeys,
      sandboxSecret,
      peers,
      ...(logLevel ? { logLevel } : {}),
    },
    overrides,
  );
  return { peers, apiUrl, suffix, taskQueue, codecKeys, sandboxSecret, env };
}
