import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { chromiumProcesses, pdfText, renderRequest } from './support.js';

/*
 * Issue 10 §3: Chromium's own sandbox is on. As root (CI, this machine), Chromium runs as `nobody`; its renderer
 * processes are confined by the sandbox: their own user and PID namespaces (NSpid nested) and a seccomp-bpf filter.
 */
const root = process.getuid?.() === 0;
const workDir = join(os.tmpdir(), `press-sandbox-test-${process.pid}`);
let renderer: ChromiumRenderer;

beforeAll(async () => {
  renderer = new ChromiumRenderer({ capacity: 1, workDir });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
});

const field = (status: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';

describe('Chromium sandbox', () => {
  it('is on, and says as whom and why', () => {
    const sandbox = renderer.status().sandbox!;
    if (root) expect(sandbox).toMatchObject({ enabled: true, user: 'nobody' });
    expect(sandbox.reason).toBeTruthy();
  });

  it('renders a page with the renderer processes sandboxed as the unprivileged user', async () => {
    const result = await renderer.render(renderRequest('simple'));
    expect(await pdfText(result.pdf)).toContain('Invoice 2024-001');
    const procs = chromiumProcesses(workDir);
    const browser = procs.find((p) => p.type === 'browser');
    const renderers = procs.filter((p) => p.type === 'renderer');
    expect(browser).toBeDefined();
    expect(renderers.length).toBeGreaterThan(0);
    // The profile lives in the renderer's own directory, not in the system temp directory.
    expect(browser!.cmdline.find((a) => a.startsWith('--user-data-dir='))).toContain(join(workDir, 'tmp'));
    expect(browser!.cmdline).not.toContain('--no-sandbox');
    for (const p of [browser!, ...renderers]) {
      const uid = field(p.status, 'Uid').split(/\s+/);
      if (root) expect(uid).toEqual(['65534', '65534', '65534', '65534']);
      else expect(uid[0]).toBe(String(process.getuid!()));
    }
    for (const p of renderers) {
      expect(field(p.status, 'Seccomp')).toBe('2');
      // A PID namespace of its own: the kernel lists its pid in ours and in the nested ones.
      expect(field(p.status, 'NSpid').split(/\s+/).length).toBeGreaterThanOrEqual(2);
    }
  });

  it("runs page script below the browser's priority: every thread of a page's renderer at nice 10", async () => {
    await renderer.render(renderRequest('simple'));
    const nice = (pid: number) =>
      readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const procs = chromiumProcesses(workDir);
    const renderers = procs.filter((p) => p.type === 'renderer');
    expect(renderers.length).toBeGreaterThan(0);
    for (const p of renderers) expect(new Set(nice(p.pid))).toEqual(new Set([10]));
    // The processes every render shares keep the scheduler's default.
    for (const p of procs.filter((p) => p.type !== 'renderer')) expect(nice(p.pid)).toContain(0);
  });

  it('cleans its directory on close', async () => {
    const mine = new ChromiumRenderer({ capacity: 1, workDir: `${workDir}-2` });
    await mine.start();
    expect(readdirSync(join(`${workDir}-2`, 'tmp')).some((n) => n.startsWith('playwright_chromiumdev_profile-'))).toBe(true);
    await mine.close();
    expect(existsSync(`${workDir}-2`)).toBe(false);
  });

  it('can be turned off', async () => {
    const off = new ChromiumRenderer({ capacity: 1, sandbox: { mode: 'off' }, workDir: `${workDir}-3` });
    try {
      expect(off.status().sandbox).toMatchObject({ enabled: false, reason: expect.stringContaining('PRESS_CHROMIUM_SANDBOX=off') });
      await off.start();
      const result = await off.render(renderRequest('simple'));
      expect(await pdfText(result.pdf)).toContain('Invoice 2024-001');
      const browser = chromiumProcesses(`${workDir}-3`).find((p) => p.type === 'browser')!;
      expect(browser.cmdline).toContain('--no-sandbox');
      expect(field(readFileSync(`/proc/${browser.pid}/status`, 'utf8'), 'Uid').split(/\s+/)[0]).toBe(String(process.getuid!()));
    } finally {
      await off.close();
    }
  });
});
