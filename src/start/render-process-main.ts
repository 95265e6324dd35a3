/**
 * Entry of the render process (see render-process.ts): a render worker with its own Chromium, store connection and
 * blob store, driven by the API process over IPC. It exits when the API process goes away (killed, crashed): nobody
 * supervises it then; its leases lapse and its jobs are retried.
 */
import pino from 'pino';
import type { Config } from '../config.js';
import { ChromiumRenderer } from '@press-cloud/engine';
import { RenderWorker } from '../workers/render-worker.js';
import { chromiumOptions, createDomainDeps } from './compose.js';
import { bridgeQueue } from './render-process.js';
import type { FromChild, ToChild } from './render-process.js';

const send = (msg: FromChild) => {
  if (process.connected) process.send!(msg);
};

async function main(config: Config, workDir: string): Promise<void> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid, process: 'render' } });
  const deps = await createDomainDeps(config);
  const bridge = bridgeQueue(deps.db, {
    claimed: (job) => send({ t: 'claimed', id: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts }),
    settled: (id) => send({ t: 'settled', id }),
  });
  deps.db = bridge.db;
  deps.db.renderJobs.onTerminal((id, webhookPending) => send({ t: 'terminal', id, webhookPending }));
  const renderer = new ChromiumRenderer({
    ...chromiumOptions(config, deps),
    workDir,
    logger,
  });
  const worker = new RenderWorker(deps, renderer, {
    leaseMs: config.jobLeaseSeconds * 1000,
    logger,
    onAttempt: ({ job: _job, ...event }) => send({ t: 'attempt', event }),
  });
  let stopping = false;
  const stop = async (abort: boolean) => {
    if (stopping) return;
    stopping = true;
    clearInterval(status);
    await worker.stop({ abort });
    await renderer.close();
    await deps.db.close();
    process.exit(0);
  };
  process.on('message', (msg: ToChild) => {
    if (msg.t === 'work') bridge.emitWork();
    else if (msg.t === 'terminal') bridge.emitTerminal(msg.id, msg.webhookPending);
    else if (msg.t === 'maintain') void worker.maintain().finally(() => send({ t: 'maintained', seq: msg.seq }));
    else if (msg.t === 'stop') void stop(msg.abort);
  });
  const status = setInterval(() => send({ t: 'status', status: renderer.status() }), 500);
  send({ t: 'ready', workerId: worker.workerId });
  renderer.start().then(
    () => send({ t: 'status', status: renderer.status() }),
    (err) => logger.error({ err }, 'renderer failed to start'),
  );
  worker.start();
}

if (!process.send) throw new Error('the render process runs under the API process (press-cloud serve)');
// The API process sends its configuration first (with advanced serialization: Buffers survive).
process.once('message', (msg: ToChild) => {
  if (msg.t !== 'init') throw new Error(`render process: expected init, got ${msg.t}`);
  main(msg.config, msg.workDir).catch((err) => {
    process.stderr.write(`render process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(1));
