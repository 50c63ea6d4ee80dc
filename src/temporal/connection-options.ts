import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';

/** How to reach Temporal: the same settings for the client, the worker and the CLI. */
export interface TemporalAccess {
  /** host:port; Temporal Cloud: `<namespace>.<account>.tmprl.cloud:7233` or a regional endpoint. */
  address: string;
  /** mTLS client certificate and key: a PEM string or a path to a PEM file (TEMPORAL_TLS_CERT/KEY). */
  tlsCert?: string;
  tlsKey?: string;
  /** The server's CA when it is not publicly trusted (TEMPORAL_TLS_CA). */
  tlsCa?: string;
  /** SNI and host-name check override (TEMPORAL_TLS_SERVER_NAME). */
  tlsServerName?: string;
  /** Temporal Cloud API key (TEMPORAL_API_KEY): sent as a bearer token, over TLS. */
  apiKey?: string;
}

/** What both `Connection.connect` and `NativeConnection.connect` accept. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

export class TemporalAccessError extends Error {
  override name = 'TemporalAccessError';
}

type ReadFile = (path: string) => Buffer;

/** A setting that holds PEM text is used as is; anything else names a file to read. */
function pem(setting: string, name: string, readFile: ReadFile): Buffer {
  if (setting.includes('-----BEGIN ')) return Buffer.from(setting.replace(/\\n/g, '\n'));
  try {
    return readFile(setting);
  } catch (err) {
    throw new TemporalAccessError(`${name}: cannot read ${setting} (${(err as Error).message})`);
  }
}

/**
 * The connection options the configuration asks for. TLS is on as soon as any TLS setting or an
 * API key is given (Temporal Cloud refuses API keys in clear text); a certificate without its key,
 * or the reverse, is refused rather than silently connecting without mTLS.
 */
export function temporalConnectionOptions(
  access: TemporalAccess,
  readFile: ReadFile = (path) => readFileSync(path),
): TemporalConnectionOptions {
  const { tlsCert, tlsKey, tlsCa, tlsServerName, apiKey } = access;
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new TemporalAccessError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither');
  }
  const wantsTls = Boolean(tlsCert || tlsCa || tlsServerName || apiKey);
  if (!wantsTls) return { address: access.address };
  const tls: TLSConfig = {
    ...(tlsCert && tlsKey
      ? {
          clientCertPair: {
            crt: pem(tlsCert, 'TEMPORAL_TLS_CERT', readFile),
            key: pem(tlsKey, 'TEMPORAL_TLS_KEY', readFile),
          },
        }
      : {}),
    ...(tlsCa ? { serverRootCACertificate: pem(tlsCa, 'TEMPORAL_TLS_CA', readFile) } : {}),
    ...(tlsServerName ? { serverNameOverride: tlsServerName } : {}),
  };
  return { address: access.address, tls, ...(apiKey ? { apiKey } : {}) };
}

/** For logs: how the connection is secured, never the secrets themselves. */
export function describeAccess(options: TemporalConnectionOptions): string {
  if (!options.tls) return `${options.address} (plain text)`;
  const parts = [
    options.tls.clientCertPair ? 'mTLS' : 'TLS',
    ...(options.apiKey ? ['API key'] : []),
    ...(options.tls.serverNameOverride ? [`server name ${options.tls.serverNameOverride}`] : []),
  ];
  return `${options.address} (${parts.join(', ')})`;
}

/** The TEMPORAL_* settings (src/config.ts) for a given address (the dev server's, when we started one). */
export function temporalAccessOf(
  settings: {
    tlsCert?: string;
    tlsKey?: string;
    tlsCa?: string;
    tlsServerName?: string;
    apiKey?: string;
  },
  address: string,
): TemporalAccess {
  const { tlsCert, tlsKey, tlsCa, tlsServerName, apiKey } = settings;
  return { address, tlsCert, tlsKey, tlsCa, tlsServerName, apiKey };
}
