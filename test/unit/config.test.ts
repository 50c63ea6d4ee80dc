import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('defaults to a local development setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 3000, publicBaseUrl: 'http://localhost:3000' });
    expect(config.temporal.address).toBeUndefined();
    expect(config.notifications.twilio).toBeUndefined();
  });

  it('requires PUBLIC_BASE_URL in production: every link and twilio signature depends on it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PUBLIC_BASE_URL/);
    expect(
      loadConfig({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://pay.example.com/' }).publicBaseUrl,
    ).toBe('https://pay.example.com');
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC1', TWILIO_AUTH_TOKEN: 't' })).toThrow(/TWILIO_FROM/);
  });
});
