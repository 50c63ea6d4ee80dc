import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressProblem, postGuarded, type ResolveHost, webhookUrlProblem } from '../../src/webhooks/egress';

const REFUSED = [
  '127.0.0.1',
  '::',
  '::1',
  '::ffff:127.0.0.1',
  '64:ff9b::7f00:1',
  '198.18.0.1',
  '192.0.0.8',
  '10.0.0.1',
  '172.16.0.1',
  '192.168.1.1',
  '100.64.0.1',
  '169.254.169.254',
  'fe80::1',
  'fc00::1',
  '224.0.0.1',
  'ff02::1',
  '0.0.0.0',
  '255.255.255.255',
  '192.0.2.1',
  '2001:db8::1',
  '240.0.0.1',
];

describe('the address policy', () => {
  it.each(REFUSED)('refuses %s', (address) => {
    expect(addressProblem(address)).toMatch(
      new RegExp(`^${address.replace(/\./g, '\\.')} is an? \\w+ address$`),
    );
  });

  it.each(['93.184.216.34', '2606:4700::1111', '::ffff:93.184.216.34'])('allows %s', (address) => {
    expect(addressProblem(address)).toBeUndefined();
  });
});

const answering =
  (...addresses: string[]): ResolveHost =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('IPv6 addresses that carry an IPv4 address inside', () => {
  // The URL parser writes [::127.0.0.1] as [::7f00:1]: both spellings reach the checks.
  it.each([
    '::7f00:1',
    '::127.0.0.1',
    '::a00:1',
    '::10.0.0.1',
    '::a9fe:a9fe',
    '::c0a8:101',
    '::808:808',
    '::8.8.8.8',
  ])('refuses the IPv4-compatible %s (::/96, deprecated), whatever it embeds', (address) => {
    expect(addressProblem(address)).toBe(`${address} is an IPv4-compatible address`);
  });

  it.each([
    ['IPv4-mapped', '::ffff:7f00:1', /is a loopback address$/],
    ['IPv4-mapped', '::ffff:10.0.0.1', /is a private address$/],
    ['IPv4-translated', '::ffff:0:a00:1', /is an? \w+ address$/],
    ['6to4 of loopback', '2002:7f00:1::1', /is a 6to4 address$/],
    ['6to4 of a private network', '2002:a00:1::1', /is a 6to4 address$/],
    ['6to4 of cloud metadata', '2002:a9fe:a9fe::', /is a 6to4 address$/],
    ['NAT64 of loopback', '64:ff9b::7f00:1', /is an? \w+ address$/],
    ['NAT64 of a private network', '64:ff9b::a00:1', /is an? \w+ address$/],
    ['NAT64 of cloud metadata', '64:ff9b::169.254.169.254', /is an? \w+ address$/],
    ['local-use NAT64 (64:ff9b:1::/48)', '64:ff9b:1::a00:1', /is an? \w+ address$/],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2', /is a teredo address$/],
  ])('refuses %s %s', (_kind, address, problem) => {
    expect(addressProblem(address)).toMatch(problem);
  });

  it('refuses them as webhook URLs, in the spelling a client sends', async () => {
    for (const url of [
      'http://[::127.0.0.1]/',
      'http://[::7f00:1]:8080/hooks',
      'http://[::10.0.0.1]/',
      'http://[::169.254.169.254]/latest',
      'http://[2002:7f00:1::1]/',
      'http://[64:ff9b::10.0.0.1]/',
    ]) {
      expect(await webhookUrlProblem(url, { allowPrivate: false }), url).toMatch(
        /resolves to a refused address/,
      );
    }
  });
});

describe('webhook URLs at registration', () => {
  const production = { allowPrivate: false };

  it('refuses IP literals and names that resolve to refused addresses', async () => {
    for (const url of [
      'http://127.0.0.1/x',
      'http://[::]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://169.254.169.254/latest',
      'http://localhost:9/',
    ]) {
      expect(await webhookUrlProblem(url, production), url).toMatch(/resolves to .* is an? \w+ address/);
    }
  });

  it('refuses a name when any of its addresses is refused, and a name that does not resolve', async () => {
    const mixed = { allowPrivate: false, resolve: answering('93.184.216.34', '10.0.0.1') };
    expect(await webhookUrlProblem('https://hooks.example.test/', mixed)).toMatch(/10\.0\.0\.1 is a private/);
    expect(
      await webhookUrlProblem('https://hooks.example.test/', { allowPrivate: false, resolve: answering() }),
    ).toMatch(/does not resolve/);
    expect(await webhookUrlProblem('https://no-such-host.invalid/hooks', production)).toMatch(
      /does not resolve/,
    );
  });

  it('allows public addresses, and anything when private addresses are allowed', async () => {
    expect(await webhookUrlProblem('https://93.184.216.34/hooks', production)).toBeUndefined();
    const pub = { allowPrivate: false, resolve: answering('2606:4700::1111') };
    expect(await webhookUrlProblem('https://hooks.example.test/', pub)).toBeUndefined();
    expect(await webhookUrlProblem('http://127.0.0.1:9/', { allowPrivate: true })).toBeUndefined();
  });
});

describe('delivery checks the address it connects to', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.writeHead(200).end('ok');
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res));
    });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });

  const post = (url: string, policy: Parameters<typeof postGuarded>[2], timeoutMs = 5_000) =>
    postGuarded(url, { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs }, policy);

  it('refuses loopback, as an IP literal or behind a name, without connecting', async () => {
    const before = connections;
    expect(await post(`http://127.0.0.1:${port}/hooks`, { allowPrivate: false })).toEqual({
      status: null,
      error: 'refused_address',
    });
    const rebound = { allowPrivate: false, resolve: answering('127.0.0.1') };
    expect(await post(`http://hooks.example.test:${port}/hooks`, rebound)).toEqual({
      status: null,
      error: 'refused_address',
    });
    // One public address among them does not make the name safe: the socket may try any.
    const mixed = { allowPrivate: false, resolve: answering('93.184.216.34', '127.0.0.1') };
    expect((await post(`http://hooks.example.test:${port}/hooks`, mixed)).error).toBe('refused_address');
    expect(connections).toBe(before);
  });

  it('connects to the resolved address when private addresses are allowed', async () => {
    const before = connections;
    const dev = { allowPrivate: true, resolve: answering('127.0.0.1') };
    expect(await post(`http://hooks.example.test:${port}/hooks`, dev)).toEqual({ status: 200, error: null });
    expect(connections).toBe(before + 1);
  });

  it('records a class for a failure, never what the receiver wrote, and follows no redirect', async () => {
    const dev = { allowPrivate: true };
    answer = (res) => res.writeHead(500).end('stack trace of an internal service');
    expect(await post(`http://127.0.0.1:${port}/hooks`, dev)).toEqual({ status: 500, error: 'http_500' });
    answer = (res) => res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    expect(await post(`http://127.0.0.1:${port}/hooks`, dev)).toEqual({ status: 302, error: 'http_302' });
    answer = () => {}; // never answers
    expect(await post(`http://127.0.0.1:${port}/hooks`, dev, 300)).toEqual({
      status: null,
      error: 'timeout',
    });
    answer = (res) => res.writeHead(200).end();
  });

  it('names a refused connection and a name that does not resolve', async () => {
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    expect(await post(`http://127.0.0.1:${closedPort}/`, { allowPrivate: true })).toEqual({
      status: null,
      error: 'connection_refused',
    });
    expect(await post('http://hooks.example.test/', { allowPrivate: false, resolve: answering() })).toEqual({
      status: null,
      error: 'dns_failure',
    });
  });
});
