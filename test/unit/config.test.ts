import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('defaults to a local development setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 3000, publicBaseUrl: 'http://localhost:3000' });
    expect(config.temporal.address).toBeUndefined();
    expect(config.notifications.twilio).toBeUndefined();
  });

  it('requires PUBLIC_BASE_URL in production: every link and twilio signature depends on it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', SECRETS_KEY: KEY })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', SECRETS_KEY: KEY })).toThrow(/PUBLIC_BASE_URL/);
    const prod = loadConfig({
      NODE_ENV: 'production',
      SECRETS_KEY: KEY,
      PAYLOAD_CODEC_KEYS: `k1:${KEY}`,
      PUBLIC_BASE_URL: 'https://pay.example.com/',
    });
    expect(prod.publicBaseUrl).toBe('https://pay.example.com');
    // No development fallbacks in production: the sandbox is off unless given its own secret.
    expect(prod.sandboxSecret).toBeUndefined();
  });

  it('requires its own SECRETS_KEY in production (webhook secrets are encrypted with it)', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://p.example' })).toThrow(
      /SECRETS_KEY/,
    );
    expect(() => loadConfig({ SECRETS_KEY: 'short' })).toThrow(/SECRETS_KEY/);
  });

  it("reads STRIPE_API_BASE_URL (unset: Stripe's own API) and refuses one that is not a URL", () => {
    expect(loadConfig({}).stripeApiBaseUrl).toBeUndefined();
    expect(loadConfig({ STRIPE_API_BASE_URL: 'http://127.0.0.1:12111' }).stripeApiBaseUrl).toBe(
      'http://127.0.0.1:12111',
    );
    expect(() => loadConfig({ STRIPE_API_BASE_URL: 'localhost:12111' })).toThrow(/STRIPE_API_BASE_URL/);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC1', TWILIO_AUTH_TOKEN: 't' })).toThrow(/TWILIO_FROM/);
  });
});
