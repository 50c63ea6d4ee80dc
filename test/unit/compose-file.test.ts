/**
 * No Docker engine runs here, so `docker-compose.yml` is checked the way the engine would read it:
 * parsed as YAML (merge keys included), variables interpolated as `docker compose` does with no
 * .env, and every Paylinks service's environment (over the image's own ENV) loaded with the same
 * parser the service runs at start-up. A value the engine would refuse fails this test.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Config, loadConfig } from '../../src/config';
import { createChannels } from '../../src/notifications/channels';
import { PROJECT_ROOT } from '../../src/paths';

type Env = Record<string, string>;
interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
}

const composeText = readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
/** `ENV` lines of the image the `build: .` services run. */
const imageEnv: Env = Object.fromEntries(
  [...readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8').matchAll(/^ENV\s+(\w+)=(\S+)/gm)].map((m) => [
    m[1] as string,
    m[2] as string,
  ]),
);

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}. */
function interpolate(value: string, shell: Env): string {
  return value.replace(
    /\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}|\$(\w+)/g,
    (match, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      const key = (name ?? bare) as string;
      const set = key in shell && (colon ? shell[key] !== '' : true);
      if (set) return shell[key] as string;
      if (op === '-') return arg ?? '';
      if (op === '?') throw new Error(`required variable ${key} is missing: ${arg}`);
      return '';
    },
  );
}

function environmentOf(service: Service, shell: Env): Env {
  const raw = service.environment ?? {};
  const pairs: [string, string][] = Array.isArray(raw)
    ? raw.map((line) => {
        const i = line.indexOf('=');
        return [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(v, shell)]));
}

const isPaylinks = (service: Service) => service.build !== undefined;
const runs = (service: Service, script: string) => (service.command ?? []).join(' ') === `npm run ${script}`;

/** What the service's entry point does with its environment before it serves: throws if it would refuse. */
function startUp(name: string, service: Service, env: Env): Config | undefined {
  if (name === 'sms-sink') {
    expect(env.TWILIO_ACCOUNT_SID, 'sms-sink TWILIO_ACCOUNT_SID').toBeTruthy();
    expect(env.TWILIO_AUTH_TOKEN, 'sms-sink TWILIO_AUTH_TOKEN').toBeTruthy();
    return undefined;
  }
  const config = loadConfig(env); // every compose service is a `service` role, never `npm start`
  if (runs(service, 'worker')) createChannels(config.notifications, config.publicBaseUrl).close();
  return config;
}

/** Every service's environment as the engine passes it; for Paylinks' own, as the service would load it. */
function checkCompose(text: string, shell: Env = {}) {
  const doc = parse(text, { merge: true }) as { services: Record<string, Service> };
  const configs: Record<string, Config | undefined> = {};
  const envs: Record<string, Env> = {};
  for (const [name, service] of Object.entries(doc.services)) {
    const env = environmentOf(service, shell);
    envs[name] = env;
    if (!isPaylinks(service)) continue;
    try {
      configs[name] = startUp(name, service, { ...imageEnv, ...env });
    } catch (err) {
      throw new Error(`service ${name} would refuse to start: ${(err as Error).message}`);
    }
  }
  return { doc, configs, envs };
}

describe('docker-compose.yml', () => {
  it('starts as written: every service resolves its variables, every Paylinks service accepts its environment', () => {
    const { doc, configs, envs } = checkCompose(composeText);
    expect(Object.keys(doc.services)).toEqual(
      expect.arrayContaining(['migrate', 'api', 'worker', 'sms-sink']),
    );
    for (const name of ['migrate', 'api', 'worker']) {
      const config = configs[name] as Config;
      expect(config.env, name).toBe('production');
      expect(config.databaseUrl, name).toBe('postgres://paylinks:paylinks@postgres:5432/paylinks');
      expect(config.allowPrivateWebhookUrls, name).toBe(false);
    }
    // The development sandbox is on, with a secret the config accepts as strong.
    expect(configs.api?.sandboxSecret).toMatch(/^[0-9a-f]{64}$/);
    // The worker's SMS reach the sink with the credentials the sink accepts.
    expect(configs.worker?.notifications.twilio).toMatchObject({
      accountSid: envs['sms-sink']?.TWILIO_ACCOUNT_SID,
      authToken: envs['sms-sink']?.TWILIO_AUTH_TOKEN,
      apiBaseUrl: `http://sms-sink:${envs['sms-sink']?.PORT}`,
    });
  });

  it('takes real values from the shell or a .env file over the development ones', () => {
    const secret = randomBytes(32).toString('hex');
    const { configs } = checkCompose(composeText, { SANDBOX_SECRET: secret, SANDBOX_ENABLED: 'false' });
    expect(configs.api?.sandboxSecret).toBeUndefined();
    const on = checkCompose(composeText, { SANDBOX_SECRET: secret });
    expect(on.configs.api?.sandboxSecret).toBe(secret);
  });

  it('fails when a service would be refused at start-up (the check checks)', () => {
    // What the file used to say: an empty sandbox secret.
    expect(() => checkCompose(composeText, { SANDBOX_SECRET: '' })).not.toThrow(); // `:-` falls back
    const emptySecret = composeText.replace(
      /SANDBOX_SECRET: \$\{SANDBOX_SECRET:-\w+\}/,
      'SANDBOX_SECRET: ""',
    );
    expect(emptySecret).not.toBe(composeText);
    expect(() => checkCompose(emptySecret)).toThrow(
      /service migrate would refuse to start: .*SANDBOX_SECRET/,
    );
    const required = composeText.replace(/\$\{SECRETS_KEY:-[^}]+\}/, '$${SECRETS_KEY:?set SECRETS_KEY}');
    expect(() => checkCompose(required.replace('$${', '${'))).toThrow(
      /required variable SECRETS_KEY is missing/,
    );
    expect(() => checkCompose(composeText, { TRUST_PROXY: 'x' })).not.toThrow(); // not passed through
    const badProxy = composeText.replace('  LOG_LEVEL: info', '  LOG_LEVEL: info\n  TRUST_PROXY: "true"');
    expect(() => checkCompose(badProxy)).toThrow(/service .* would refuse to start: .*TRUST_PROXY/);
  });
});
