import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { Logger } from '@press-cloud/engine/logger';
import type { RenderJobRecord } from '../model/records.js';
import type { DomainDeps } from '../domain/context.js';
import type { Database, RenderJobRepository } from '../ports/database.js';
import { RenderError } from '@press-cloud/engine';
import type { Renderer, RendererStatus } from '@press-cloud/engine';
import type { AttemptEvent } from '../workers/render-worker.js';

/*
 * The render pool in its own supervised process (issue 10 §3). Chromium and the code that drives it (Playwright,
 * which parses every message a page makes Chromium send) run in a child process with a bounded heap; the API process
 * only supervises it. If the child dies — killed, out of memory, crashed — the API keeps answering, the jobs the
 * child held go back to the queue at once, and a new child starts after a backoff.
 *
 * The child is a render worker like any other: it claims jobs from the shared queue, writes PDFs to the blob store
 * and records them itself. Only small control messages cross the IPC channel (no payloads, no PDFs): queue wake-ups
 * (SQLite's are in-process), job ends (for `?wait` and webhooks), claims and settlements (to release a dead child's
 * jobs) and a status snapshot for /readyz and /metrics.
 */

let supervisors = 0;

export type ToChild =
  | { t: 'init'; config: Config; workDir: string }
  | { t: 'work' } | { t: 'terminal'; id: string; webhookPending: boolean } | { t: 'maintain'; seq: number } | { t: 'stop'; abort: boolean };
export type FromChild =
  | { t: 'ready'; workerId: string }
  | { t: 'status'; status: RendererStatus }
  | { t: 'claimed'; id: string; attempt: number; maxAttempts: number }
  | { t: 'settled'; id: string }
  | { t: 'terminal'; id: string; webhookPending: boolean }
  | { t: 'attempt'; event: Omit<AttemptEvent, 'job'> }
  | { t: 'maintained'; seq: number };

/**
 * `db` with its render-job repository's events fed from outside too (another process), and claims/settlements
 * reported: what both sides of the render process need, without touching the adapters.
 */
export function bridgeQueue(
  db: Database,
  report: { claimed?(job: RenderJobRecord): void; settled?(id: string): void } = {},
): { db: Database; emitWork(): void; emitTerminal(id: string, webhookPending: boolean): void } {
  const work = new Set<() => void>();
  const terminal = new Set<(id: string, webhookPending: boolean) => void>();
  const jobs = db.renderJobs;
  const subscribe = <L>(set: Set<L>, listener: L, off: () => void) => {
    set.add(listener);
    return () => {
      set.delete(listener);
      off();
    };
  };
  const overrides: Partial<RenderJobRepository> = {
    onWork: (l) => subscribe(work, l, jobs.onWork(l)),
    onTerminal: (l) => subscribe(terminal, l, jobs.onTerminal(l)),
    claim: async (opts) => {
      const job = await jobs.claim(opts);
      if (job) report.claimed?.(job);
      return job;
    },
    succeed: async (id, ...rest) => {
      try {
        return await jobs.succeed(id, ...rest);
      } finally {
        report.settled?.(id);
      }
    },
    fail: async (id, ...rest) => {
      try {
        return await jobs.fail(id, ...rest);
      } finally {
        report.settled?.(id);
      }
    },
  };
  const renderJobs = new Proxy(jobs, {
    get: (target, prop, receiver) => {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof RenderJobRepository];
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const bridged = new Proxy(db, {
    get: (target, prop, receiver) => {
      if (prop === 'renderJobs') return renderJobs;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    db: bridged,
    emitWork: () => {
      for (const l of [...work]) l();
    },
    emitTerminal: (id, webhookPending) => {
      for (const l of [...terminal]) l(id, webhookPending);
    },
  };
}

export interface RenderProcessOptions {
  /** the API process's dependencies; `db` must be the one `bridge` wraps */
  deps: DomainDeps;
  bridge: { emitWork(): void; emitTerminal(id: string, webhookPending: boolean): void };
  /** the queue as the adapters emit it (unbridged): its own events are forwarded to the child */
  rawJobs: RenderJobRepository;
  /** the API process's configuration; the child opens the same store and blob store with it */
  config: Readonly<Config>;
  /** renders at once in the child (the same number the child computes from the configuration) */
  capacity: number;
  /** V8 heap bound of the child; over it the child dies and is restarted */
  maxHeapMb: number;
  logger: Logger;
  onAttempt?: (event: Omit<AttemptEvent, 'job'>) => void;
}

/** Run from the sources (tsx: tests, npm run dev) the child is too; from dist/ (npm start, the package) it is built JS. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_ENTRY = fileURLToPath(new URL(FROM_SOURCE ? './render-process-main.ts' : './render-process-main.js', import.meta.url));
const SOURCE_ARGV = FROM_SOURCE ? ['--conditions=source', '--import', import.meta.resolve('tsx')] : [];
/** `node --cpu-prof …` profiles the render process too (docs/performance.md: BENCH_API_ONLY) */
const PROFILE_ARGV = process.execArgv.filter((a) => a.startsWith('--cpu-prof'));
const BACKOFF_MS = [250, 1_000, 2_000, 5_000, 10_000, 30_000];
/** a child that ran this long without dying resets the backoff */
const STABLE_MS = 30_000;

/** The supervisor, in the API process. `start`/`stop`/`maintain`/`activeCount` mirror the in-process RenderWorker. */
export class RenderProcess {
  private child: ChildProcess | null = null;
  private workerId: string | null = null;
  private readonly inflight = new Map<string, { attempt: number; maxAttempts: number }>();
  private status: RendererStatus | null = null;
  private stopping = false;
  private failures = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private lastExit: string | null = null;
  private maintainSeq = 0;
  /** the render process's Chromium profiles and temporary files; the same for every child this supervisor starts */
  readonly workDir = join(os.tmpdir(), `press-render-${process.pid}-${++supervisors}`);
  private readonly maintaining = new Map<number, () => void>();
  private readonly offs: Array<() => void> = [];
  /** children started after the first (crashes, kills, out of memory) */
  restarts = 0;

  constructor(private readonly opts: RenderProcessOptions) {
    this.renderer = {
      render: async () => {
        throw new RenderError('render_internal_error', 'renders run in the render process', true);
      },
      capacity: opts.capacity,
      status: () => this.rendererStatus(),
      start: async () => this.start(),
      close: async () => this.stop({ abort: true }),
    };
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get activeCount(): number {
    return this.inflight.size;
  }

  start(): void {
    this.stopping = false;
    if (this.offs.length === 0) {
      this.offs.push(
        this.opts.rawJobs.onWork(() => this.send({ t: 'work' })),
        this.opts.rawJobs.onTerminal((id, webhookPending) => this.send({ t: 'terminal', id, webhookPending })),
      );
    }
    if (!this.child && !this.restartTimer) this.spawn();
  }

  /** Stops the child: its renders finish (or, with `abort`, are released for a retry), then it exits. */
  async stop(opts: { abort?: boolean; graceMs?: number } = {}): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    for (const off of this.offs.splice(0)) off();
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ t: 'stop', abort: !!opts.abort });
    const grace = opts.graceMs ?? (opts.abort ? 15_000 : 95_000);
    const timer = setTimeout(() => child.kill('SIGKILL'), grace);
    await exited;
    clearTimeout(timer);
  }

  /** Runs the child's queue maintenance once (tests). */
  maintain(): Promise<void> {
    const seq = ++this.maintainSeq;
    return new Promise<void>((resolve) => {
      this.maintaining.set(seq, resolve);
      if (!this.send({ t: 'maintain', seq })) {
        this.maintaining.delete(seq);
        resolve();
      }
    });
  }

  /** Test hook: what an out-of-memory or a crash does to the child. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  /** The renderer as /readyz and /metrics see it: the child's last status. Renders happen in the child only. */
  readonly renderer: Renderer;

  private rendererStatus(): RendererStatus {
    const down = !this.child || !this.status;
    const base: RendererStatus = this.status ?? {
      engine: 'chromium',
      executablePath: null,
      version: null,
      ready: false,
      restarts: 0,
      active: 0,
      queued: 0,
      contexts: 0,
      error: null,
    };
    return {
      ...base,
      ready: !down && base.ready,
      restarts: base.restarts + this.restarts,
      active: this.inflight.size,
      error: down ? `render process ${this.lastExit ? `restarting after it ${this.lastExit}` : 'starting'}` : base.error,
      renderProcess: { pid: this.pid, restarts: this.restarts },
    };
  }

  private send(msg: ToChild): boolean {
    const child = this.child;
    if (!child?.connected) return false;
    child.send(msg, (err) => err && this.opts.logger.debug({ err: String(err) }, 'render process message not sent'));
    return true;
  }

  private spawn(): void {
    this.restartTimer = null;
    this.status = null;
    this.workerId = null;
    this.startedAt = Date.now();
    const child = fork(CHILD_ENTRY, [], {
      execArgv: [...SOURCE_ARGV, ...PROFILE_ARGV, `--max-old-space-size=${this.opts.maxHeapMb}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    this.send({ t: 'init', config: this.opts.config, workDir: this.workDir });
    child.on('message', (msg: FromChild) => this.onMessage(msg));
    child.on('error', (err) => this.opts.logger.error({ err: String(err) }, 'render process error'));
    child.once('exit', (code, signal) => void this.onExit(child, code, signal));
  }

  private onMessage(msg: FromChild): void {
    switch (msg.t) {
      case 'ready':
        this.workerId = msg.workerId;
        this.opts.logger.info({ pid: this.pid, workerId: msg.workerId }, 'render process ready');
        break;
      case 'status':
        this.status = msg.status;
        break;
      case 'claimed':
        this.inflight.set(msg.id, { attempt: msg.attempt, maxAttempts: msg.maxAttempts });
        break;
      case 'settled':
        this.inflight.delete(msg.id);
        break;
      case 'terminal':
        this.opts.bridge.emitTerminal(msg.id, msg.webhookPending);
        break;
      case 'attempt':
        this.opts.onAttempt?.(msg.event);
        break;
      case 'maintained':
        this.maintaining.get(msg.seq)?.();
        this.maintaining.delete(msg.seq);
        break;
    }
  }

  private async onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.child !== child) return;
    this.child = null;
    this.status = null;
    for (const [seq, resolve] of this.maintaining) {
      this.maintaining.delete(seq);
      resolve();
    }
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    this.lastExit = how;
    // A child killed outright leaves Chromium's profile and temporary files behind; its successor starts clean.
    rmSync(this.workDir, { recursive: true, force: true });
    await this.releaseJobs(how);
    if (this.stopping) return;
    // 134 = abort(): V8's "JavaScript heap out of memory" ends that way.
    this.opts.logger.error({ code, signal, outOfMemory: code === 134 }, `render process ${how}; restarting`);
    if (Date.now() - this.startedAt > STABLE_MS) this.failures = 0;
    const delay = BACKOFF_MS[Math.min(this.failures++, BACKOFF_MS.length - 1)];
    this.restarts++;
    this.restartTimer = setTimeout(() => this.spawn(), delay);
  }

  /** The dead child's jobs go back to the queue now (not after their leases lapse), as a shutdown release does. */
  private async releaseJobs(how: string): Promise<void> {
    const workerId = this.workerId;
    const jobs = [...this.inflight];
    this.inflight.clear();
    if (!workerId) return;
    const { deps } = this.opts;
    for (const [id, { attempt, maxAttempts }] of jobs) {
      const now = deps.clock.now();
      const retry = attempt < maxAttempts;
      const message = `The render process ${how} during the render.`;
      try {
        const moved = await this.opts.rawJobs.fail(id, workerId, now, { code: 'render_internal_error', message, renderTimeMs: 0 }, retry ? now : null);
        if (moved) this.opts.onAttempt?.({ outcome: retry ? 'retry_scheduled' : 'failed', code: 'render_internal_error', renderMs: 0 });
      } catch (err) {
        this.opts.logger.error({ err, jobId: id }, 'releasing a job of the dead render process failed; its lease will lapse');
      }
    }
  }
}
