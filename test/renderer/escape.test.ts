import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { createOutbound } from '../../packages/engine/src/outbound/outbound.js';
import type { HostLookup } from '../../packages/engine/src/outbound/outbound.js';
import { jsonPayload, memoryLogger, pdfText, renderRequest } from './support.js';

// Ways out of a page that request interception did not see (issue 10 part 4), each run against a loopback victim
// started here: the victim must see no connection at all, and its secret must never reach the PDF.
const SECRET = 'VICTIM-SECRET-7f3a';
const connections: string[] = [];
const victim = http.createServer((req, res) => {
  const body = req.url?.endsWith('.js')
    ? req.url.includes('mod')
      ? `export const stolen = '${SECRET}';`
      : `self.stolen = '${SECRET}';`
    : req.url?.includes('-es')
      ? `data: ${SECRET}\n\n`
      : SECRET;
  const type = req.url?.endsWith('.js') ? 'text/javascript' : req.url?.includes('-es') ? 'text/event-stream' : 'text/plain';
  res.writeHead(200, { 'content-type': type, 'access-control-allow-origin': '*' }).end(body);
});
victim.on('connection', (socket) => connections.push(`${socket.remoteAddress}:${socket.remotePort}`));
victim.on('upgrade', (_req, socket) => socket.end(`HTTP/1.1 400 ${SECRET}\r\n\r\n`));
let victimUrl = '';

// With external network on, names are resolved by this table only; the victim's name points at loopback.
const lookup: HostLookup = async (hostname) => {
  if (hostname === 'victim.test') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

const logger = memoryLogger();
let renderer: ChromiumRenderer;

beforeAll(async () => {
  await new Promise<void>((resolve) => victim.listen(0, '127.0.0.1', resolve));
  victimUrl = `http://127.0.0.1:${(victim.address() as AddressInfo).port}`;
  renderer = new ChromiumRenderer({ capacity: 1, outbound: createOutbound({ lookup }), logger });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
  await new Promise((resolve) => victim.close(resolve));
});

const refusedByGuard = () =>
  logger.entries.filter((e) => e.msg === 'network guard refused a browser request').map((e) => (e.obj as { target: string }).target);

async function run(vector: string, allowExternalNetwork: boolean): Promise<{ line: string; guard: string[] }> {
  const before = refusedByGuard().length;
  const result = await renderer.render(
    renderRequest('escape', { allowExternalNetwork, payload: jsonPayload({ victim: victimUrl, vector }) }),
  );
  const text = await pdfText(result.pdf);
  expect(text).not.toContain(SECRET);
  const line = new RegExp(`${vector}=\\S*`).exec(text)?.[0] ?? text;
  return { line, guard: refusedByGuard().slice(before) };
}

const port = () => new URL(victimUrl).port;

// Vectors whose requests bypassed request interception (the renderer's way of serving pages before issue 15): the
// guard proxy, where every request of a render's context now arrives, refuses them and logs the refusal.
const bypassing = [
  'sharedworker-fetch',
  'sharedworker-post',
  'sharedworker-importScripts',
  'sharedworker-eventsource',
  'sharedworker-websocket',
  'sharedworker-import',
  'audioworklet',
  'webrtc-turn-tcp',
  'page-websocket',
];

describe.each([false, true])('escape vectors (external network %s)', (allowExternalNetwork) => {
  it.each(bypassing)('%s: refused by the guard proxy, the victim sees nothing', async (vector) => {
    const { line, guard } = await run(vector, allowExternalNetwork);
    expect(line.startsWith(`${vector}=`), line).toBe(true);
    expect(line).not.toContain(`${vector}=ok`);
    expect(connections).toEqual([]);
    // The request did reach the browser's network stack, and ended at the guard, not at an unused port.
    expect(guard.some((t) => t.includes(`127.0.0.1:${port()}`)), JSON.stringify(guard)).toBe(true);
  });

  it.each(['page-fetch'])('%s: refused by the address policy, the victim sees nothing', async (vector) => {
    const { line } = await run(vector, allowExternalNetwork);
    expect(line.startsWith(`${vector}=`), line).toBe(true);
    expect(line).not.toContain(`${vector}=ok`);
    expect(connections).toEqual([]);
  });
});

describe('guard proxy', () => {
  it('refuses a request sent to it directly, whatever the target', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const guardUrl = new URL(renderer.status().networkGuard!.proxy!);
      const req = http.request(
        { host: guardUrl.hostname, port: guardUrl.port, method: 'GET', path: `${victimUrl}/direct` },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(connections).toEqual([]);
  });
});
