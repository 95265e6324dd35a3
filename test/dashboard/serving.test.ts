import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt } from '../helpers/build.js';
import { ROOT } from '../helpers/processes.js';
import type { TestServer } from '../helpers/server.js';
import { startApiServer } from '../api/helpers.js';

ensureDashboardBuilt();
const DIST = join(ROOT, 'dashboard/dist');

/** The scripts and style sheets a first visit of the overview loads: index.html's own, before any lazy page. */
function firstLoad(): string[] {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
}

let s: TestServer;
beforeAll(async () => {
  s = await startApiServer();
});
afterAll(() => s?.stop());

describe('the dashboard, served by the API process', () => {
  it('dashboard routes fall back to index.html (revalidated); API and unknown routes keep their JSON', async () => {
    for (const path of ['/', '/sign-in', '/setup', '/accept-invitation', '/account', '/w/acct_0123456789abc/jobs/rj_x']) {
      const res = await fetch(s.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await res.text()).toContain('<div id="app">');
    }
    const unknown = await s.request('GET', '/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('route_not_found');
    expect((await s.request('GET', '/v1/deploys', { key: null })).body.error).toBe('missing_authorization');
    expect((await s.request('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await fetch(`${s.url}/docs`)).status).toBeLessThan(400);
  });

  it('hashed assets are immutable for a year, gzipped for clients that accept it; a missing one is a JSON 404', async () => {
    const [script] = firstLoad();
    const plain = await fetch(s.url + script, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toMatch(/^text\/javascript/);
    const body = Buffer.from(await plain.arrayBuffer());
    expect(body.equals(readFileSync(join(DIST, script)))).toBe(true);

    const gz = await fetch(s.url + script, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(gz.headers.get('vary')).toMatch(/accept-encoding/i);
    expect(Buffer.from(await gz.arrayBuffer()).equals(body)).toBe(true); // fetch decodes it

    const missing = await s.request('GET', '/assets/nope-123.js');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('route_not_found');
    expect((await s.request('GET', '/assets/..%2Fpackage.json')).status).toBe(404);
  });

  it('the overview\'s first load is under 200 KB of JavaScript gzipped', () => {
    const scripts = firstLoad().filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce((n, f) => n + gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length, 0);
    console.log(`dashboard first load: ${scripts.length} script(s), ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
    expect(gzipped).toBeLessThan(200 * 1024);
  });
});
