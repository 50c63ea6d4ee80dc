import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { parseTrustProxy } from '../../src/config/rate-limits';

const STRONG = randomBytes(32).toString('hex');
/** What the source used to sign with when nothing was configured. */
const FORMER_DEFAULT = 'sandbox-development-secret-not-for-production';

describe('fail-closed defaults', () => {
  it('turns the sandbox on by itself only for the all-in-one command in development', () => {
    const dev = loadConfig({}, { role: 'all-in-one' });
    expect(dev.sandboxSecret).toMatch(/^[0-9a-f]{64}$/);
    // Drawn per start: no secret in the source signs for it.
    expect(loadConfig({}, { role: 'all-in-one' }).sandboxSecret).not.toBe(dev.sandboxSecret);
    expect(dev.allowPrivateWebhookUrls).toBe(true);

    for (const env of [{}, { NODE_ENV: 'development' }, { NODE_ENV: 'test' }]) {
      const service = loadConfig(env);
      expect(service.sandboxSecret).toBeUndefined();
      expect(service.allowPrivateWebhookUrls).toBe(false);
    }
    const test = loadConfig({ NODE_ENV: 'test' }, { role: 'all-in-one' });
    expect(test.sandboxSecret).toBeUndefined();
    expect(test.allowPrivateWebhookUrls).toBe(false);
  });

  it('needs SANDBOX_ENABLED=true with a strong SANDBOX_SECRET everywhere else', () => {
    expect(loadConfig({ SANDBOX_ENABLED: 'true', SANDBOX_SECRET: STRONG }).sandboxSecret).toBe(STRONG);
    expect(() => loadConfig({ SANDBOX_ENABLED: 'true' })).toThrow(
      /SANDBOX_SECRET is required when SANDBOX_ENABLED=true/,
    );
    // A secret alone no longer switches it on, and says so.
    expect(() => loadConfig({ SANDBOX_SECRET: STRONG })).toThrow(/SANDBOX_ENABLED/);
    expect(loadConfig({ SANDBOX_ENABLED: 'false', SANDBOX_SECRET: STRONG }).sandboxSecret).toBeUndefined();
    expect(loadConfig({ SANDBOX_ENABLED: 'false' }, { role: 'all-in-one' }).sandboxSecret).toBeUndefined();
  });

  it('refuses a weak SANDBOX_SECRET, naming the setting', () => {
    for (const weak of [
      FORMER_DEFAULT,
      'sandbox-test-secret-0123456789',
      randomBytes(31).toString('hex'),
      '00'.repeat(32),
      'ab'.repeat(64),
      randomBytes(32).toString('base64'),
    ]) {
      expect(() => loadConfig({ SANDBOX_ENABLED: 'true', SANDBOX_SECRET: weak }), weak).toThrow(
        /SANDBOX_SECRET: must be at least 32 random bytes, hex-encoded/,
      );
      expect(() => loadConfig({ SANDBOX_SECRET: weak }, { role: 'all-in-one' })).toThrow(/SANDBOX_SECRET/);
    }
  });

  it('allows private webhook URLs only when asked, and never in production', () => {
    expect(loadConfig({ ALLOW_PRIVATE_WEBHOOK_URLS: 'true' }).allowPrivateWebhookUrls).toBe(true);
    expect(
      loadConfig({ ALLOW_PRIVATE_WEBHOOK_URLS: 'false' }, { role: 'all-in-one' }).allowPrivateWebhookUrls,
    ).toBe(false);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
        PUBLIC_BASE_URL: 'https://pay.example.com',
        ALLOW_PRIVATE_WEBHOOK_URLS: 'true',
      }),
    ).toThrow(/ALLOW_PRIVATE_WEBHOOK_URLS/);
  });
});

describe('rate limit settings', () => {
  it('reads the limits, with documented defaults', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      publicPerMinute: 300,
      callbacksPerMinute: 1200,
      failedAuthPerMinute: 30,
      accountPerMinute: 600,
    });
    expect(loadConfig({ RATE_LIMIT_ACCOUNT_PER_MINUTE: '5' }).rateLimits.accountPerMinute).toBe(5);
    expect(() => loadConfig({ RATE_LIMIT_PUBLIC_PER_MINUTE: '0' })).toThrow(/RATE_LIMIT_PUBLIC_PER_MINUTE/);
    expect(() => loadConfig({ RATE_LIMIT_ACCOUNT_PER_MINUTE: 'lots' })).toThrow(
      /RATE_LIMIT_ACCOUNT_PER_MINUTE/,
    );
  });

  it('parses TRUST_PROXY as hops or addresses and subnets, refusing what it cannot read', () => {
    expect(loadConfig({}).trustProxy).toEqual(['loopback']);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('0')).toBe(false);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.7,fd00::/8,loopback')).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
      'loopback',
    ]);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    for (const bad of ['true', '10.0.0.0/33', 'proxy.internal', '1.2.3', ',', '-1']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });
});
