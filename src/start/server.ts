import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import type { Config } from '../config.js';
import { bootstrap } from '../domain/accounts.js';
import { issueSetupToken } from '../domain/users.js';
import type { Clock } from '../domain/clock.js';
import type { DomainDeps } from '../domain/context.js';
import { RenderWorker } from '../workers/render-worker.js';
import { Sweeper } from '../workers/sweeper.js';
import { WebhookSender } from '../workers/webhook-sender.js';
import type { AppContext } from '../http/context.js';
import type { Renderer } from '@press-cloud/engine';
import { ChromiumRenderer, decideSandbox, sandboxState } from '@press-cloud/engine';
import { chromiumOptions, createDomainDeps } from './compose.js';
import { bridgeQueue, RenderProcess } from './render-process.js';
import os from 'node:os';
import type { Logger } from '@press-cloud/engine/logger';
import { Metrics } from '../internal/metrics.js';

export interface RunningServer {
  app: FastifyInstance;
  deps: DomainDeps;
  /**
   * this process's renderer and worker (idle on the `api` role); with `renderProcess`, the supervisor of the render
   * process and a view of its renderer's status
   */
  renderer: Renderer;
  worker: RenderWorker | RenderProcess;
  metrics: Metrics;
  /** the webhook sender (tests call `runOnce()`; `sweep()` runs it too) */
  webhooks: WebhookSender;
  url: string;
  /** the admin key created on first start of an empty store, else null */
  bootstrapKey: string | null;
  /** while no user exists: the one-time setup link that creates the first user (owner), else null */
  setupUrl: string | null;
  /** runs the sweepers once (tests call this instead of waiting for the interval) */
  sweep(): Promise<void>;
  /** graceful: stops claiming, lets renders finish (or, with `abort`, releases them for a retry), closes everything */
  close(opts?: { abort?: boolean }): Promise<void>;
}

export type Role = 'api' | 'worker' | 'all';

export interface StartOptions {
  /**
   * `all` (default): API + render worker in one process. `api`: the /v1 API only (stateless, behind a load
   * balancer). `worker`: renders jobs, serving only /healthz, /readyz and /metrics. Sweepers and the webhook
   * sender run on every role; they are safe to run on several nodes at once.
   */
  role?: Role;
  clock?: Clock;
  logger?: boolean;
  /** where the log goes (default stdout); tests read it */
  logStream?: NodeJS.WritableStream;
  /** a renderer to use instead of launching Chromium (e.g. one shared by several test servers) */
  renderer?: Renderer;
  /** render job lease (ms); a killed worker's job is retried after it lapses */
  leaseMs?: number;
  /**
   * role `all` without `renderer`: run the render worker and Chromium in a supervised child process, so that nothing
   * a page does to them can stop the API (`press-cloud serve` does unless PRESS_RENDER_ISOLATION=inline)
   */
  renderProcess?: boolean;
}

/**
 * Starts everything in order: store (migrations) → bootstrap → HTTP → render worker → background sweepers.
 * Shutdown runs the other way: stop sweeps and claims, let renders finish, close HTTP, then the store.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const role = opts.role ?? 'all';
  const renders = role !== 'api';
  const deps = await createDomainDeps(config, { clock: opts.clock });
  const boot = role === 'worker' ? null : await bootstrap(deps);
  const setupToken = role === 'worker' ? null : await issueSetupToken(deps);
  const isolated = role === 'all' && !opts.renderer && !!opts.renderProcess;
  const rawJobs = deps.db.renderJobs;
  const bridge = isolated ? bridgeQueue(deps.db) : null;
  if (bridge) deps.db = bridge.db;
  let log: Logger | null = null;
  // The app's logger exists only once the app is built; renderers log through it from then on.
  const lateLog: Logger = {
    debug: (o, m) => log?.debug(o, m),
    info: (o, m) => log?.info(o, m),
    warn: (o, m) => log?.warn(o, m),
    error: (o, m) => log?.error(o, m),
  };
  const supervisor = bridge
    ? new RenderProcess({
        deps,
        bridge,
        rawJobs,
        config,
        capacity: config.renderConcurrency ?? os.availableParallelism(),
        maxHeapMb: config.renderProcessHeapMb,
        logger: lateLog,
        onAttempt: (e) => {
          metrics.jobDuration.observe({ outcome: e.outcome }, e.renderMs / 1000);
          if (e.code && e.outcome !== 'succeeded') metrics.renderFailures.inc({ code: e.code });
        },
      })
    : null;
  const renderer = supervisor?.renderer ?? opts.renderer ?? new ChromiumRenderer({
    ...chromiumOptions(config, deps),
    logger: lateLog,
  });
  const ctx: AppContext = {
    deps,
    hooks: {
      onDeployDeleted: async (deployId) => void (await deps.db.renderJobs.cancelForDeploy(deployId, deps.clock.now())),
      outputBytes: (accountId) => deps.db.renderJobs.outputBytes(accountId),
    },
    readiness: !renders ? {} : {
      renderer: async () => {
        const st = renderer.status();
        if (!st.ready && st.error) throw new Error(`renderer not ready: ${st.error}`);
        return {
          engine: st.engine, executablePath: st.executablePath, version: st.version, capacity: renderer.capacity, active: st.active, restarts: st.restarts,
          isolation: supervisor ? { mode: 'process', ...st.renderProcess } : { mode: 'inline' },
          networkGuard: st.networkGuard ?? null,
          memory: st.memory ?? null,
          // The render process reports what its launch used; until its first report, what it will decide.
          sandbox: st.sandbox ?? sandboxState(decideSandbox(config.chromiumSandbox, config.chromiumSandboxUser)),
        };
      },
    },
  };
  const metrics = new Metrics({ queue: deps.db.renderJobs, renderer: renders ? renderer : undefined, role });
  const app = await buildApp(ctx, {
    logger:
      opts.logger === false
        ? false
        : {
            level: config.logLevel,
            redact: ['req.headers.authorization', 'req.headers["x-upload-token"]'],
            ...(opts.logStream
              ? { stream: opts.logStream }
              : config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
          },
    rateLimitPerMinute: config.rateLimitPerMinute,
    bodyLimits: { timeoutMs: config.bodyTimeoutSeconds * 1000, memoryBytes: config.bodyMemoryBytes },
    surface: role === 'worker' ? 'ops' : 'api',
    metrics,
  });
  log = app.log;
  const worker = supervisor ?? new RenderWorker(deps, renderer, {
    leaseMs: opts.leaseMs ?? config.jobLeaseSeconds * 1000,
    logger: app.log,
    onAttempt: (e) => {
      metrics.jobDuration.observe({ outcome: e.outcome }, e.renderMs / 1000);
      if (e.code && e.outcome !== 'succeeded') metrics.renderFailures.inc({ code: e.code });
    },
  });
  const webhooks = new WebhookSender(deps, { logger: app.log, onAttempt: (outcome) => metrics.webhookDeliveries.inc({ outcome }) });

  const sweeper = new Sweeper(deps, { intervalMs: config.sweepIntervalSeconds * 1000, webhooks, logger: app.log });
  sweeper.start();

  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('[::1]', 'localhost');
  if (!config.publicUrl) deps.settings.publicUrl = url;
  if (renders) {
    // Launch the browser in the background so the API answers at once; the first render waits for it if needed.
    renderer.start().catch((err) => app.log.error({ err }, 'renderer failed to start'));
    worker.start();
  }
  webhooks.start(); // after listen: signed links in webhook bodies need the public URL

  return {
    app, deps, renderer, worker, webhooks, metrics, url, bootstrapKey: boot?.key ?? null,
    // the dashboard's setup page; the token rides in the fragment, so it never reaches a server log
    setupUrl: setupToken ? `${deps.settings.publicUrl}/setup#token=${setupToken}` : null,
    sweep: () => sweeper.sweep(),
    async close(closeOpts = {}) {
      const sweeping = sweeper.stop();
      await worker.stop({ abort: closeOpts.abort });
      await webhooks.stop();
      await sweeping;
      await app.close();
      if (!opts.renderer && renders && !supervisor) await renderer.close();
      await deps.db.close();
    },
  };
}
