import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { BASE_ARGS, findChromium, sparticuzArgs, unpackOnce } from '../../packages/engine/src/chromium/find-chromium.js';
import {
  EXTRA_DISABLED_FEATURES,
  mergeDisabledFeatures,
  playwrightDisableFeaturesArg,
} from '../../packages/engine/src/chromium/launch-features.js';

function fakeBinary(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

const SPARTICUZ_ARGS = [
  '--disable-print-preview',
  '--single-process',
  '--font-render-hinting=none',
  '--disable-features=AudioServiceOutOfProcess,IsolateOrigins,site-per-process',
  '--enable-features=SharedArrayBuffer',
  '--in-process-gpu',
  '--use-angle=swiftshader',
  '--allow-running-insecure-content',
  '--disable-setuid-sandbox',
  '--disable-web-security',
  "--headless='shell'",
  '--no-sandbox',
  '--no-zygote',
];

describe('findChromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'press-chromium-'));
  const shell = fakeBinary(dir, 'headless-shell');
  const systemDir = mkdtempSync(join(tmpdir(), 'press-bin-'));
  const system = fakeBinary(systemDir, 'chromium');
  const loadShell = async () => ({ executablePath: shell, args: SPARTICUZ_ARGS });
  const noShell = async (): Promise<never> => {
    throw new Error('package missing');
  };

  it('prefers PRESS_CHROMIUM_PATH', async () => {
    const custom = fakeBinary(dir, 'custom-chrome');
    const found = await findChromium({
      env: { PRESS_CHROMIUM_PATH: custom, PATH: systemDir },
      loadHeadlessShell: loadShell,
    });
    expect(found).toEqual({ engine: 'custom', executablePath: custom, args: [...BASE_ARGS] });
  });

  it('refuses a PRESS_CHROMIUM_PATH that is not executable instead of falling back', async () => {
    await expect(
      findChromium({ env: { PRESS_CHROMIUM_PATH: join(dir, 'nope'), PATH: systemDir }, loadHeadlessShell: loadShell }),
    ).rejects.toThrow(/PRESS_CHROMIUM_PATH/);
  });

  it('then the headless shell, without the flags that break or weaken it', async () => {
    const found = await findChromium({ env: { PATH: systemDir }, loadHeadlessShell: loadShell });
    expect(found.engine).toBe('chrome-headless-shell');
    expect(found.executablePath).toBe(shell);
    for (const dropped of [
      '--single-process',
      '--no-zygote',
      '--disable-web-security',
      '--allow-running-insecure-content',
      "--headless='shell'",
    ]) {
      expect(found.args).not.toContain(dropped);
    }
    expect(found.args.some((a) => a.startsWith('--disable-features=') || a.startsWith('--enable-features='))).toBe(
      false,
    );
    expect(found.args).toEqual(expect.arrayContaining(['--no-sandbox', '--disable-setuid-sandbox', ...BASE_ARGS]));
  });

  it('then a system chromium on PATH', async () => {
    const found = await findChromium({ env: { PATH: `/nonexistent:${systemDir}` }, loadHeadlessShell: noShell });
    expect(found).toEqual({ engine: 'system-chromium', executablePath: system, args: [...BASE_ARGS] });
  });

  it('explains when there is none', async () => {
    await expect(findChromium({ env: { PATH: '/nonexistent' }, loadHeadlessShell: noShell })).rejects.toThrow(
      /no Chromium found.*package missing/,
    );
  });

  it('always adds the offline flags', () => {
    for (const flag of [
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ]) {
      expect(BASE_ARGS).toContain(flag);
    }
    expect(sparticuzArgs(['--single-process', '--no-sandbox'])).toEqual(['--no-sandbox']);
  });
});

describe('launch features', () => {
  it("merges ours into Playwright's --disable-features without duplicates", () => {
    expect(mergeDisabledFeatures('--disable-features=A,B', ['B', 'RenderDocument'])).toBe(
      '--disable-features=A,B,RenderDocument',
    );
    expect(mergeDisabledFeatures('--disable-features=', ['X'])).toBe('--disable-features=X');
  });

  it("reads the flag Playwright launched the real browser with (so it can be replaced, not shadowed)", async () => {
    const found = await findChromium();
    const browser = await chromium.launch({ executablePath: found.executablePath, args: found.args, headless: true });
    try {
      const flag = await playwrightDisableFeaturesArg(browser);
      expect(flag).toMatch(/^--disable-features=\S+/);
      for (const f of EXTRA_DISABLED_FEATURES) expect(flag!.split(/[=,]/)).not.toContain(f);
    } finally {
      await browser.close();
    }
  });
});

describe('unpacking the headless shell', () => {
  // stands in for @sparticuz/chromium: it writes `chromium` into os.tmpdir() unless one is already there
  const fakePackage = (version: string, calls: { n: number }) => async () => {
    const path = join(tmpdir(), 'chromium');
    if (!existsSync(path)) {
      calls.n++;
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(path, `chromium ${version}`);
    }
    return path;
  };

  it('unpacks each version into a directory of its own, once, even when two launches start together', async () => {
    const root = mkdtempSync(join(tmpdir(), 'press-unpack-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = root;
    try {
      const calls = { n: 0 };
      const [a, b] = await Promise.all([unpackOnce('147.0.0', fakePackage('147', calls)), unpackOnce('147.0.0', fakePackage('147', calls))]);
      expect(a).toBe(join(root, 'press-headless-shell-147.0.0', 'chromium'));
      expect(b).toBe(a);
      expect(readFileSync(a, 'utf8')).toBe('chromium 147');
      expect(await unpackOnce('147.0.0', fakePackage('147', calls))).toBe(a);
      expect(calls.n).toBe(1); // the two starts together unpacked once; the third reused it
      // an upgrade gets the new browser, not the one a previous version left behind
      const upgraded = await unpackOnce('153.0.0', fakePackage('153', calls));
      expect(upgraded).toBe(join(root, 'press-headless-shell-153.0.0', 'chromium'));
      expect(readFileSync(upgraded, 'utf8')).toBe('chromium 153');
      expect(readdirSync(root).sort()).toEqual(['press-headless-shell-147.0.0', 'press-headless-shell-153.0.0']); // no staging left
      expect(process.env.TMPDIR).toBe(root);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('the real headless shell runs from its versioned directory', async () => {
    const found = await findChromium({ env: {} });
    const { version } = JSON.parse(readFileSync(new URL('../../node_modules/@sparticuz/chromium/package.json', import.meta.url), 'utf8'));
    expect(found.engine).toBe('chrome-headless-shell');
    expect(found.executablePath).toBe(join(tmpdir(), `press-headless-shell-${version}`, 'chromium'));
  }, 60_000);
});
