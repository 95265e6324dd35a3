/**
 * Real `press-cloud serve` child processes sharing one PostgreSQL database and one S3 store (the distributed
 * configuration as an operator runs it), plus small helpers for the distributed suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, descendants, PRESS_CLOUD_FROM_SOURCE, ROOT } from '../helpers/processes.js';
import { sleep } from '../helpers/wait.js';

/** A port that was free a moment ago (the node needs it up front: PRESS_PUBLIC_URL names it). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export { sleep };

/** Scrapes one Prometheus sample value (first match of `name{…labels…}`); null when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return null;
}

export type NodeRole = 'api' | 'worker' | 'all';

/**
 * One `press-cloud serve --role <role>` (from the sources) process on a fixed port, with its own (empty) data directory:
 * everything shared lives in PostgreSQL and S3, the secret key comes from PRESS_SECRET_KEY.
 */
export class ServeNode {
  child: ChildProcess | null = null;
  /** stderr of the current process (the bootstrap banner, warnings) */
  stderr = '';
  /** every process this node ran, with how it ended */
  readonly exits: { code: number | null; signal: NodeJS.Signals | null }[] = [];
  readonly url: string;
  readonly dataDir: string;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly name: string, readonly role: NodeRole, readonly port: number, private readonly env: Record<string, string>) {
    this.url = `http://127.0.0.1:${port}`;
    this.dataDir = mkdtempSync(join(tmpdir(), `press-${name}-`));
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and waits until /healthz answers (the API listens before the browser is up). */
  async start(timeoutMs = 30_000): Promise<void> {
    this.stderr = '';
    const child = spawn(process.execPath, [...PRESS_CLOUD_FROM_SOURCE, 'serve', '--role', this.role], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', PRESS_DATA_DIR: this.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exits.push({ code, signal });
      resolve();
    }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited during start-up:\n${this.stderr}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not answer /healthz within ${timeoutMs} ms:\n${this.stderr}`);
      await sleep(100);
    }
  }

  /** The admin key printed once by the node that bootstrapped the empty store (null if this one did not). */
  bootstrapKey(): string | null {
    return /PRESS_CLOUD_TOKEN=(pcak_\S+)/.exec(this.stderr)?.[1] ?? null;
  }

  /** kill -9, then its orphaned Chromium processes (a real machine loses them with the process group/cgroup). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const orphans = descendants(child.pid!);
    child.kill('SIGKILL');
    await this.exited;
    await sleep(100);
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }

  /** SIGTERM and wait; returns the exit code (null if it had to be killed after `timeoutMs`). */
  async terminate(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const child = this.child;
    if (!child || !this.running) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null, ms: 0 };
    const t0 = Date.now();
    child.kill('SIGTERM');
    const timedOut = await Promise.race([this.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut) {
      await this.kill();
      return { code: null, signal: 'SIGKILL', ms: Date.now() - t0 };
    }
    return { code: child.exitCode, signal: child.signalCode, ms: Date.now() - t0 };
  }

  async metrics(): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.url}/metrics`);
    return { status: res.status, text: await res.text() };
  }

  /** tidy up after a test: no process left behind, data dir removed */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Runs `press-cloud <args>` to completion (operator commands); rejects on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...PRESS_CLOUD_FROM_SOURCE, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(Object.assign(new Error(`press-cloud ${args.join(' ')} exited ${code ?? signal}:\n${stderr}${stdout}`), { code, stdout, stderr }));
    });
  });
}
