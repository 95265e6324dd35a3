import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import type { Config } from '../config.js';
import { bootstrap } from '../domain/accounts.js';
import type { Clock } from '../domain/clock.js';
import type { DomainDeps } from '../domain/context.js';
import { IDEMPOTENCY_TTL_MS } from '../domain/idempotency.js';
import { collectGarbage, expireUploadSessions } from '../domain/uploads.js';
import type { AppContext } from '../http/context.js';
import { createDomainDeps } from './compose.js';

export interface RunningServer {
  app: FastifyInstance;
  deps: DomainDeps;
  url: string;
  /** the admin key created on first start of an empty store, else null */
  bootstrapKey: string | null;
  /** runs the sweepers once (tests call this instead of waiting for the interval) */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

/** Starts everything in order: store (migrations) → bootstrap → HTTP → background sweepers. */
export async function startServer(config: Config, opts: { clock?: Clock; logger?: boolean } = {}): Promise<RunningServer> {
  const deps = await createDomainDeps(config, { clock: opts.clock });
  const boot = await bootstrap(deps);
  const ctx: AppContext = { deps, hooks: {}, readiness: {} };
  const app = await buildApp(ctx, {
    logger: opts.logger === false ? false : { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-upload-token"]'] },
    rateLimitPerMinute: config.rateLimitPerMinute,
  });

  const sweep = async () => {
    await expireUploadSessions(deps);
    await collectGarbage(deps);
    await deps.store.idempotency.purge(deps.clock.now() - IDEMPOTENCY_TTL_MS);
  };
  let sweeping: Promise<void> | null = null;
  const timer = setInterval(() => {
    sweeping ??= sweep().catch((err) => app.log.error({ err }, 'sweep failed')).finally(() => (sweeping = null));
  }, config.sweepIntervalSeconds * 1000);
  timer.unref();

  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('[::1]', 'localhost');
  return {
    app, deps, url, bootstrapKey: boot?.key ?? null, sweep,
    async close() {
      clearInterval(timer);
      await sweeping;
      await app.close();
      await deps.store.close();
    },
  };
}
