import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { createOutbound } from '../../packages/engine/src/outbound/outbound.js';
import type { HostLookup } from '../../packages/engine/src/outbound/outbound.js';
import { jsonPayload, memoryLogger, pdfText, renderRequest } from './support.js';

// A local server standing in for everything a page must not reach. Any connection to it is a failure.
const connections: string[] = [];
const requests: string[] = [];
const server = http.createServer((req, res) => {
  requests.push(`${req.method} ${req.url}`);
  res.end('reached');
});
server.on('connection', (socket) => connections.push(String(socket.remotePort)));
server.on('upgrade', (req, socket) => {
  requests.push(`UPGRADE ${req.url}`);
  socket.destroy();
});
let local = '';

// Names the test resolves itself: the renderer must judge the addresses, not the names, and never reach them.
const lookups: string[] = [];
const lookup: HostLookup = async (hostname) => {
  lookups.push(hostname);
  const table: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
    'rebind.test': [{ address: '127.0.0.1', family: 4 }],
    'mixed.test': [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ],
    'mapped.test': [{ address: '::ffff:169.254.169.254', family: 6 }],
    'cgnat.test': [{ address: '100.64.1.1', family: 4 }],
  };
  const found = table[hostname];
  if (!found) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found;
};

const logger = memoryLogger();
let renderer: ChromiumRenderer;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  renderer = new ChromiumRenderer({ capacity: 1, outbound: createOutbound({ lookup }), logger });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
  await new Promise((resolve) => server.close(resolve));
});

function targets(port: string) {
  return [
    { name: 'loopback', url: `${local}/direct` },
    { name: 'loopback-v6', url: `http://[::1]:${port}/v6` },
    { name: 'loopback-decimal', url: `http://2130706433:${port}/decimal` },
    { name: 'private', url: 'http://10.1.2.3/' },
    { name: 'metadata', url: 'http://169.254.169.254/latest/meta-data' },
    { name: 'public-name', url: 'http://example.com/' },
    // https: Chromium itself blocks http:// names from an https page as mixed content before we'd see them.
    { name: 'public-name-tls', url: 'https://example.com/' },
    { name: 'rebind', url: `https://rebind.test:${port}/rebind` },
    { name: 'mixed', url: 'https://mixed.test/' },
    { name: 'mapped', url: 'https://mapped.test/' },
    { name: 'cgnat', url: 'https://cgnat.test/' },
  ];
}

async function renderNetworkApp(allowExternalNetwork: boolean): Promise<string> {
  const port = new URL(local).port;
  const result = await renderer.render(
    renderRequest('network', {
      allowExternalNetwork,
      payload: jsonPayload({ local, targets: targets(port) }),
      env: { VISIBLE: 'yes' },
    }),
  );
  expect(result.pageCount).toBe(1);
  return pdfText(result.pdf);
}

function expectBlocked(text: string, names: string[]): void {
  for (const name of names) expect(text).toContain(`${name}=blocked`);
}

describe('network sandbox', () => {
  it('blocks every way out when the plan has no external network, and still renders', async () => {
    lookups.length = 0;
    const text = await renderNetworkApp(false);
    expect(text).toContain('Network sandbox');
    expectBlocked(text, ['fetch-local', 'img-local', 'ws-local', 'worker-local', ...targets('0').map((t) => t.name)]);
    // The page's own data origin still works.
    expect(text).toContain('internal-env=ok');
    // Nothing reached the server, not even a TCP connection (preconnect, beacon, popup, iframe, WebSocket).
    expect(requests).toEqual([]);
    expect(connections).toEqual([]);
    // Without external network no name is even resolved.
    expect(lookups).toEqual([]);
  });

  it('with external network, still refuses loopback, private, metadata and CGNAT addresses, judged by IP', async () => {
    lookups.length = 0;
    const text = await renderNetworkApp(true);
    expectBlocked(text, ['fetch-local', 'img-local', 'ws-local', 'worker-local', ...targets('0').map((t) => t.name)]);
    expect(text).toContain('internal-env=ok');
    expect(requests).toEqual([]);
    expect(connections).toEqual([]);
    // Names were resolved (by the injected resolver) and refused for their addresses.
    expect(lookups).toEqual(
      expect.arrayContaining(['example.com', 'rebind.test', 'mixed.test', 'mapped.test', 'cgnat.test']),
    );
  });

  it('logs blocked requests by origin only (paths and queries can carry tokens)', () => {
    const blocked = logger.entries.filter((e) => e.msg?.startsWith('external request blocked'));
    expect(blocked.length).toBeGreaterThan(0);
    const logged = JSON.stringify(blocked);
    expect(logged).toContain('http://169.254.169.254');
    expect(logged).not.toContain('/latest/meta-data');
    expect(logged).not.toContain('/img.png');
  });
});
