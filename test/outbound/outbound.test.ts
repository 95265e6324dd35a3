import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrl, createOutbound, fetchPinned } from '../../packages/engine/src/outbound/outbound.js';
import type { HostLookup } from '../../packages/engine/src/outbound/outbound.js';
import type { DomainDeps } from '../../src/domain/context.js';
import { checkWebhookUrl } from '../../src/domain/deploys.js';
import { isBlockedAddress } from '../../packages/engine/src/outbound/address-policy.js';
import { OutboundRefusedError } from '../../packages/engine/src/outbound/port.js';

describe('isBlockedAddress', () => {
  const blocked = [
    // loopback
    '127.0.0.1',
    '127.255.255.254',
    '::1',
    '0:0:0:0:0:0:0:1',
    // private
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '192.168.255.255',
    'fc00::1',
    'fd12:3456:789a::1',
    // link-local and metadata
    '169.254.0.1',
    '169.254.169.254',
    'fe80::1',
    'fe80::1%eth0',
    'febf:ffff::1',
    // CGNAT, this-network, unspecified
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '0.1.2.3',
    '::',
    // multicast, broadcast, reserved
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    'ff02::1',
    'ff05::1:3',
    // documentation / benchmarking / protocol assignments
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '198.18.0.1',
    '192.0.0.8',
    '2001:db8::1',
    // IPv4 hidden in IPv6
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '0:0:0:0:0:ffff:c0a8:0101',
    '::ffff:0:192.168.1.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::1',
    '2002:a9fe:a9fe::',
    '::127.0.0.1',
    '::10.0.0.1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    '64:ff9b:1::1',
    '[::1]',
    // not an address at all
    'localhost',
    'example.com',
    '',
    '1.2.3',
    '999.1.1.1',
  ];
  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '93.184.215.14',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.169.0.1',
    '169.253.255.255',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:82b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:0808:0808::1',
    '[2606:4700:4700::1111]',
  ];

  it.each(blocked)('blocks %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each(allowed)('allows %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(false);
  });

});

describe('checkUrl', () => {
  const calls: string[] = [];
  const lookup: HostLookup = async (host) => {
    calls.push(host);
    if (host === 'public.test') return [{ address: '93.184.215.14', family: 4 }];
    if (host === 'private.test') return [{ address: '192.168.1.10', family: 4 }];
    if (host === 'both.test') {
      return [
        { address: '2606:4700:4700::1111', family: 6 },
        { address: '::1', family: 6 },
      ];
    }
    throw new Error('ENOTFOUND');
  };

  it('resolves names and judges every address', async () => {
    expect(await checkUrl(new URL('https://public.test/x'), lookup)).toEqual({
      allowed: true,
      address: { address: '93.184.215.14', family: 4 },
    });
    expect((await checkUrl(new URL('https://private.test/'), lookup)).allowed).toBe(false);
    expect((await checkUrl(new URL('https://both.test/'), lookup)).allowed).toBe(false);
    expect((await checkUrl(new URL('https://nowhere.test/'), lookup)).allowed).toBe(false);
  });

  it('judges IP literals without DNS, including the forms URL parsing normalises', async () => {
    calls.length = 0;
    for (const url of [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::1]:8080/',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      expect((await checkUrl(new URL(url), lookup)).allowed, url).toBe(false);
    }
    expect(await checkUrl(new URL('http://[2606:4700:4700::1111]/'), lookup)).toEqual({
      allowed: true,
      address: { address: '2606:4700:4700::1111', family: 6 },
    });
    expect(calls).toEqual([]);
  });

  it('refuses other schemes and reserved names before resolving', async () => {
    calls.length = 0;
    for (const url of ['ftp://public.test/', 'file:///etc/passwd', 'http://localhost/', 'http://a.localhost/']) {
      expect((await checkUrl(new URL(url), lookup)).allowed, url).toBe(false);
    }
    expect((await checkUrl(new URL('https://metadata.google.internal/'), lookup)).allowed).toBe(false);
    expect(calls).toEqual([]);
  });
});

describe('fetchPinned', () => {
  const seen: Array<{ host?: string; url?: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    seen.push({ host: req.headers.host, url: req.url, headers: req.headers });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'https://elsewhere.test/' });
      res.end();
    } else if (req.url === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'set-cookie': ['a=1', 'b=2'] });
      res.end(zlib.gzipSync('hello compressed'));
    } else if (req.url === '/big') {
      res.end(Buffer.alloc(10_000));
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive' });
      res.end('hello');
    }
  });
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const pinnedTo127 = (path: string, maxBytes = 1_000_000) =>
    fetchPinned({
      // The name doesn't resolve anywhere: only the pinned address can make this work.
      url: new URL(`http://pinned.invalid:${port}${path}`),
      method: 'GET',
      headers: { 'user-agent': 'test', host: 'evil.test', connection: 'close', cookie: 'k=v' },
      body: null,
      maxBytes,
      signal: new AbortController().signal,
    }, { address: '127.0.0.1', family: 4 });

  it('connects to the pinned address and keeps the name for Host', async () => {
    const res = await pinnedTo127('/plain');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers.connection).toBeUndefined();
    const last = seen.at(-1)!;
    expect(last.host).toBe(`pinned.invalid:${port}`);
    expect(last.headers['user-agent']).toBe('test');
    expect(last.headers.cookie).toBe('k=v');
  });

  it('decodes compressed bodies and keeps multiple set-cookie headers', async () => {
    const res = await pinnedTo127('/gzip');
    expect(res.body.toString()).toBe('hello compressed');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['set-cookie']).toBe('a=1\nb=2');
  });

  it('hands redirects back instead of following them', async () => {
    const res = await pinnedTo127('/redirect');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://elsewhere.test/');
    expect(seen.filter((s) => s.url === '/redirect')).toHaveLength(1);
  });

  it('fails a response over the size limit', async () => {
    await expect(pinnedTo127('/big', 1000)).rejects.toThrow(/over 1000 bytes/);
  });
});

describe('one policy for webhook URLs and page requests', () => {
  // Edge addresses on which the two former rules disagreed; each reached through a name, as DNS would answer.
  const edges = [
    '2002:a9fe:a9fe::', // 6to4 form of the metadata address
    '64:ff9b::a9fe:a9fe', // NAT64 form of it
    '::ffff:0:a9fe:a9fe', // SIIT form of it
    '::7f00:1', // IPv4-compatible loopback
    '::ffff:7f00:1',
    '2001::1', // Teredo
    'fec0::1', // site-local
    '100::1', // discard-only
    '192.0.0.8',
    '198.18.0.1',
    '0.0.0.0',
    '64:ff9b:1::1',
  ];
  const lookup: HostLookup = async (host) => {
    const i = /^edge-(\d+)\.test$/.exec(host);
    if (i) {
      const address = edges[Number(i[1])];
      return [{ address, family: address.includes(':') ? 6 : 4 }];
    }
    if (host === 'public.test') return [{ address: '93.184.215.14', family: 4 }];
    throw new Error('ENOTFOUND');
  };
  const outbound = createOutbound({ lookup });
  const deps = { outbound, settings: { webhookAllowPrivate: false } } as unknown as DomainDeps;
  const pageRequest = (url: string) =>
    outbound.request({ url: new URL(url), method: 'GET', headers: {}, body: null, maxBytes: 1024, signal: new AbortController().signal });

  it.each(edges.map((address, i) => ({ address, i })))('refuses $address for both uses', async ({ address, i }) => {
    for (const url of [`https://edge-${i}.test/hook`, `https://${address.includes(':') ? `[${address}]` : address}/hook`]) {
      await expect(checkWebhookUrl(deps, url), url).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(pageRequest(url), url).rejects.toBeInstanceOf(OutboundRefusedError);
    }
  });

  it('allows a public address for both uses', async () => {
    await expect(checkWebhookUrl(deps, 'https://public.test/hook')).resolves.toBeUndefined();
    expect(await outbound.check(new URL('https://public.test/x'))).toMatchObject({ allowed: true });
  });
});
