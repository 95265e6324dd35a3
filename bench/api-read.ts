/**
 * API read throughput: `GET /v1/render-jobs/{id}` (authenticated, one succeeded job with diagnostics) at c
 * keep-alive connections for a fixed time, against the embedded server (SQLite) started in this process the way
 * `npm run bench` starts it. The client shares the process (and the 2 cores) with the server, so this is the
 * server's cost plus a lean client's; compare runs, not absolute numbers across machines.
 *
 *   npm run bench:api                       # c = 1, 8, 32; 5 s each
 *   BENCH_SECONDS=10 npm run bench:api
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/start/server.js';
import { onePage } from './documents.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const dataDir = mkdtempSync(join(tmpdir(), 'press-bench-read-'));
const server = await startServer(
  loadConfig({ PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PRESS_RENDER_CONCURRENCY: '1' }),
  { logger: false, renderProcess: true },
);
const auth = { authorization: `Bearer ${server.bootstrapKey}` };
const json = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
};

try {
  // One deployed invoice, rendered once: the job read below is a real succeeded job.
  const buf = Buffer.from(onePage);
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const s = await json('POST', '/v1/upload-sessions', {
    createDeploy: { slug: 'bench-read', name: 'bench-read' },
    files: [{ path: 'index.html', sha256, size: buf.length, mime: 'text/html; charset=utf-8' }],
  });
  const token = { 'x-upload-token': s.uploadToken };
  await fetch(`${server.url}/v1/upload-sessions/${s.uploadSession.id}/blobs/${sha256}`, {
    method: 'PUT', headers: { ...auth, ...token, 'content-type': 'application/octet-stream' }, body: buf,
  });
  await json('POST', `/v1/upload-sessions/${s.uploadSession.id}/commit`, {}, token);
  const { job } = await json('POST', '/v1/render-jobs?wait=60', { deployId: s.uploadSession.deployId });
  if (job.status !== 'succeeded') throw new Error(`the job ended ${job.status}`);

  console.log(`API read — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, ${SECONDS} s per row`);
  console.log('| request | connections | req/s | p50 ms | p99 ms | non-200 | load avg |');
  console.log('|---|---|---|---|---|---|---|');
  const url = new URL(`/v1/render-jobs/${job.id}`, server.url);
  for (const c of [1, 8, 32]) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: c });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        http
          .get(url, { headers: auth, agent }, (res) => {
            res.on('data', () => undefined);
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          })
          .on('error', reject);
      });
    const load0 = loadavg()[0];
    const latencies: number[] = [];
    let bad = 0;
    // warm-up: open the connections
    await Promise.all(Array.from({ length: c }, get));
    const end = performance.now() + SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          const status = await get();
          latencies.push(performance.now() - t);
          if (status !== 200) bad++;
        }
      }),
    );
    const wall = performance.now() - t0;
    agent.destroy();
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    console.log(
      `| GET /v1/render-jobs/{id} | ${c} | ${((latencies.length / wall) * 1000).toFixed(0)} | ${at(0.5).toFixed(2)} | ${at(0.99).toFixed(2)} | ${bad} | ${load0.toFixed(1)}→${loadavg()[0].toFixed(1)} |`,
    );
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
