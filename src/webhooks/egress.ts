/**
 * Where webhooks may go, checked at registration and again at connect time. A host name that
 * resolved to a public address when the URL was registered may resolve to an internal one by
 * the time we deliver (DNS rebinding), so delivery checks the very addresses it connects to:
 * the socket's own `lookup` refuses them, and nothing resolves the name a second time.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to; injected so tests can play a DNS that changes. */
export type ResolveHost = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolve: ResolveHost = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export interface EgressPolicy {
  /** ALLOW_PRIVATE_WEBHOOK_URLS: development and tests, whose receivers listen on loopback. */
  allowPrivate: boolean;
  resolve?: ResolveHost;
}

/**
 * An IPv6 literal as the WHATWG URL parser (what a socket connects to) writes it: ipaddr.js
 * reads `::127.0.0.1` as `::ffff:127.0.0.1`, another address.
 */
function canonicalIPv6(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address; // a zone id (fe80::1%eth0): no embedded IPv4 to misread
  }
}

/**
 * Why an address may not receive webhooks, or undefined when it may. Only ipaddr.js's `unicast`
 * (the public internet) passes: loopback, private, link-local (cloud metadata), unique-local,
 * unspecified (`0.0.0.0`, `[::]`), NAT64 (`64:ff9b::/96`, which reaches IPv4 inside), 6to4 and
 * Teredo (tunnels to an embedded IPv4), carrier-grade NAT, benchmarking (`198.18.0.0/15`),
 * IETF protocol assignments (`192.0.0.0/24`), documentation, multicast, broadcast and the
 * reserved ranges are all refused. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as its IPv4;
 * IPv4-compatible IPv6 (`::127.0.0.1`, `::/96`) is refused whatever it embeds.
 */
export function addressProblem(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  // IPv4-compatible IPv6 (`::/96`, deprecated by RFC 4291): ipaddr.js calls `::7f00:1` (how the
  // URL parser writes `[::127.0.0.1]`) unicast, and a host with IPv4-compatible routing reaches
  // the embedded IPv4 through it. No public receiver has such an address: all of ::/96 is
  // refused (`::` and `::1` keep their own names).
  const canonical = canonicalIPv6(address);
  const parsed = ipaddr.parse(canonical);
  if (
    parsed.kind() === 'ipv6' &&
    (parsed as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0) &&
    !['unspecified', 'loopback'].includes(parsed.range())
  )
    return `${address} is an IPv4-compatible address`;
  const range = ipaddr.process(canonical).range();
  if (range === 'unicast') return undefined;
  return `${address} is ${/^[aeiou]/i.test(range) ? 'an' : 'a'} ${range} address`;
}

/** A connection the policy refused before any socket was opened. */
export class RefusedAddressError extends Error {
  readonly code = 'EPAYLINKS_REFUSED_ADDRESS';
}

const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/** The checked addresses of a host (an IP literal is checked as itself, never resolved). */
async function checkedAddresses(host: string, policy: EgressPolicy): Promise<ResolvedAddress[]> {
  const family = isIP(host);
  const addresses = family
    ? [{ address: host, family: family as 4 | 6 }]
    : await (policy.resolve ?? systemResolve)(host);
  if (addresses.length === 0)
    throw Object.assign(new Error(`${host} does not resolve`), { code: 'ENOTFOUND' });
  if (!policy.allowPrivate) {
    // Every address, not just the first: the socket may fall back to any of them.
    for (const a of addresses) {
      const problem = addressProblem(a.address);
      if (problem)
        throw new RefusedAddressError(`the host ${host} resolves to a refused address: ${problem}`);
    }
  }
  return addresses;
}

/** Why a URL may not receive webhooks (at registration), or undefined when it may. */
export async function webhookUrlProblem(url: string, policy: EgressPolicy): Promise<string | undefined> {
  // Development receivers may be anything, even names that do not resolve yet.
  if (policy.allowPrivate) return undefined;
  const host = bareHost(new URL(url));
  try {
    await checkedAddresses(host, policy);
    return undefined;
  } catch (err) {
    return err instanceof RefusedAddressError ? err.message : `the host ${host} does not resolve`;
  }
}

/** A socket `lookup` that answers only addresses the policy allows: what it checks is what connects. */
function guardedLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    checkedAddresses(hostname, policy).then(
      (all) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted ? all.filter((a) => a.family === wanted) : all;
        const first = usable[0];
        if (!first) {
          callback(
            Object.assign(new Error(`${hostname} has no IPv${wanted} address`), { code: 'ENOTFOUND' }),
            '',
            0,
          );
        } else if (options.all) {
          // Node ≥ 20 tries every address in turn (autoSelectFamily): each one was checked above.
          (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, usable);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** What one delivery attempt came to: a status, or a short error class; never the response body. */
export interface PostOutcome {
  status: number | null;
  /** `http_500`, `refused_address`, `timeout`, `connection_refused`…; null for a 2xx. */
  error: string | null;
}

/** A short, stable class for a failed attempt: stored and shown, so nothing the receiver wrote. */
export function errorClass(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof RefusedAddressError) return 'refused_address';
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT') return 'timeout';
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns_failure';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection_reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
  }
  if (/CERT|TLS|SSL/.test(String(e?.code ?? ''))) return 'tls_error';
  return 'network_error';
}

/**
 * POSTs `body` to `url` under the policy. Redirects are not followed (they could lead anywhere,
 * including inside our network): a 3xx is a failed attempt like any other non-2xx. The response
 * body is never read.
 */
export async function postGuarded(
  url: string,
  request: { headers: Record<string, string>; body: string; timeoutMs: number },
  policy: EgressPolicy,
): Promise<PostOutcome> {
  try {
    const target = new URL(url);
    // Sockets skip `lookup` for IP literals: those are checked here instead.
    if (isIP(bareHost(target))) await checkedAddresses(bareHost(target), policy);
    const status = await new Promise<number>((resolve, reject) => {
      const req = (target.protocol === 'https:' ? https : http).request(
        target,
        {
          method: 'POST',
          headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
          lookup: guardedLookup(policy),
          // A fresh socket per attempt: a pooled one would skip the connect-time check.
          agent: false,
          signal: AbortSignal.timeout(request.timeoutMs),
        },
        (res) => {
          resolve(res.statusCode ?? 0);
          res.destroy();
        },
      );
      req.on('error', reject);
      req.end(request.body);
    });
    return { status, error: status >= 200 && status < 300 ? null : `http_${status}` };
  } catch (err) {
    return { status: null, error: errorClass(err) };
  }
}
