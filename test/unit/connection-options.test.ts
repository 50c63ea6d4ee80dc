import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import {
  describeAccess,
  TemporalAccessError,
  temporalAccessOf,
  temporalConnectionOptions,
} from '../../src/temporal/connection-options';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n';
const files: Record<string, string> = { '/etc/paylinks/client.pem': CERT, '/etc/paylinks/ca.pem': 'CA PEM' };
const readFile = (path: string) => {
  if (!(path in files)) throw new Error('ENOENT: no such file');
  return Buffer.from(files[path] as string);
};
const fromEnv = (env: Record<string, string>) => {
  const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', ...env });
  return temporalConnectionOptions(
    temporalAccessOf(config.temporal, config.temporal.address as string),
    readFile,
  );
};

describe('Temporal connection options from the configuration', () => {
  it('is plain text with no TLS setting and no API key (the dev server)', () => {
    expect(fromEnv({})).toEqual({ address: 'ns.acct.tmprl.cloud:7233' });
    expect(describeAccess(fromEnv({}))).toBe('ns.acct.tmprl.cloud:7233 (plain text)');
  });

  it('mTLS: certificate and key as file paths or PEM text, CA and server name', () => {
    const options = fromEnv({
      TEMPORAL_TLS_CERT: '/etc/paylinks/client.pem',
      TEMPORAL_TLS_KEY: KEY,
      TEMPORAL_TLS_CA: '/etc/paylinks/ca.pem',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(options.address).toBe('ns.acct.tmprl.cloud:7233');
    expect(options.apiKey).toBeUndefined();
    expect(options.tls?.clientCertPair?.crt.toString()).toBe(CERT);
    expect(options.tls?.clientCertPair?.key.toString()).toBe(KEY);
    expect(options.tls?.serverRootCACertificate?.toString()).toBe('CA PEM');
    expect(options.tls?.serverNameOverride).toBe('temporal.internal');
    expect(describeAccess(options)).toBe('ns.acct.tmprl.cloud:7233 (mTLS, server name temporal.internal)');
  });

  it('PEM given in one line with \\n escapes (how some secret stores hand it over) is unfolded', () => {
    const options = fromEnv({
      TEMPORAL_TLS_CERT: CERT.replaceAll('\n', '\\n'),
      TEMPORAL_TLS_KEY: KEY.replaceAll('\n', '\\n'),
    });
    expect(options.tls?.clientCertPair?.crt.toString()).toBe(CERT);
  });

  it('an API key alone turns TLS on (Temporal Cloud refuses keys in clear text)', () => {
    const options = fromEnv({ TEMPORAL_API_KEY: 'tcak_secret' });
    expect(options).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'tcak_secret' });
    expect(describeAccess(options)).toBe('ns.acct.tmprl.cloud:7233 (TLS, API key)');
    expect(describeAccess(options)).not.toContain('tcak_secret');
  });

  it('refuses half an mTLS pair and names an unreadable file', () => {
    expect(() => fromEnv({ TEMPORAL_TLS_CERT: '/etc/paylinks/client.pem' })).toThrow(TemporalAccessError);
    expect(() => fromEnv({ TEMPORAL_TLS_KEY: KEY })).toThrow(
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/,
    );
    expect(() => fromEnv({ TEMPORAL_TLS_CERT: '/nope.pem', TEMPORAL_TLS_KEY: KEY })).toThrow(
      /TEMPORAL_TLS_CERT: cannot read \/nope\.pem/,
    );
  });
});
