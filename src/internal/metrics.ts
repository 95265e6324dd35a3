import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RenderJobRepository } from '../ports/database.js';
import type { Renderer } from '@press-cloud/engine';

/**
 * Prometheus metrics of one process (GET /metrics on every node). Counters are per process; gauges that describe
 * shared state (queue depth) are read from the store at scrape time, so any node reports the cluster's queue.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'press_http_request_duration_seconds',
    help: 'HTTP request latency by route and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: 'press_render_attempt_duration_seconds',
    help: 'Render job attempt duration (claim to outcome) by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly renderFailures = new Counter({
    name: 'press_render_failures_total',
    help: 'Render attempts that failed, by error code (retried or final)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'press_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(opts: { queue: Pick<RenderJobRepository, 'countByStatus'>; renderer?: Renderer; role: string }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'press_process_' });
    this.registry.setDefaultLabels({ role: opts.role });
    const { queue, renderer } = opts;
    new Gauge({
      name: 'press_render_jobs',
      help: 'Render jobs by status (shared queue, read at scrape time)',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        for (const [status, n] of Object.entries(await queue.countByStatus())) this.set({ status }, n);
      },
    });
    if (renderer) {
      new Gauge({
        name: 'press_browser_restarts',
        help: 'Browser launches after the first (recycling and crashes) in this process',
        registers: [this.registry],
        collect() {
          this.set(renderer.status().restarts);
        },
      });
      new Gauge({
        name: 'press_renderer_memory_recycles',
        help: 'Warm pages (kind="page") and browsers (kind="browser") recycled for their measured memory in this process',
        labelNames: ['kind'] as const,
        registers: [this.registry],
        collect() {
          const memory = renderer.status().memory;
          this.set({ kind: 'page' }, memory?.pagesRecycled ?? 0);
          this.set({ kind: 'browser' }, memory?.browsersRecycled ?? 0);
        },
      });
      new Gauge({
        name: 'press_renders_active',
        help: 'Renders in progress in this process',
        registers: [this.registry],
        collect() {
          this.set(renderer.status().active);
        },
      });
    }
  }
}
