/**
 * Press Cloud against its peers, on the same Chromium binary (the @sparticuz/chromium headless shell) and the same
 * one-page invoice, at c = 1, 2, 4, in one run:
 *   - Press Cloud: POST /v1/render-jobs?wait + GET …/output (`node bin/press-cloud.js serve`, built, as `npm start`
 *     runs it; renders in its render process);
 *   - a hand-written puppeteer server (bench/puppeteer-server.mjs): a page per request, setContent + load + pdf;
 *   - Browserless 2.x (`@browserless.io/browserless`): POST /pdf {html} with its defaults.
 * The peers are installed with `npm install --prefix` into a temp folder (BENCH_PEERS_DIR, default
 * $TMPDIR/press-bench-peers, reused), never into this project; Browserless 2 needs Node ≥ 24, so the npm `node@24`
 * package is installed there too and runs it.
 *
 *   npm run bench:peers               # 60 documents per row
 *   BENCH_QUICK=1 npm run bench:peers # 30
 *   BENCH_BROWSERLESS_CHROMIUM=/path/to/chromium npm run bench:peers
 *                                     # Browserless on another binary, on purpose (its rows then cross versions)
 *   BENCH_PEERS_LOG=/tmp/bless.log    # Browserless's output into a file (BENCH_PEERS_DEBUG: its DEBUG setting)
 *   BENCH_PEERS_DUMPIO=1              # …with each of its browsers' stderr (slows Browserless: not for figures)
 *
 * Before the timed rows each server renders one document and the Chromium milestone in its PDF's producer
 * (`Skia/PDF m153`) is printed beside its rows; the bench refuses to compare servers that rendered on different
 * milestones unless BENCH_BROWSERLESS_CHROMIUM was set.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findChromium } from '../packages/engine/src/chromium/find-chromium.js';
import { onePage } from './documents.js';
import { installPeers, pdfOver, PEERS_DIR, peerVersion, startPuppeteerServer, started } from './peer-support.js';
import { benchTmpdir, closedLoop, machineLine, request, startBenchServer } from './support.js';

const N = process.env.BENCH_QUICK === '1' ? 30 : 60;
const dir = PEERS_DIR;
const TOKEN = 'press-bench';

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The Chromium milestone that printed a PDF, from its producer (`/Producer (Skia/PDF m153)`); null if none. */
function pdfMilestone(pdf: Buffer): number | null {
  const m = /\/Producer \(Skia\/PDF m(\d+)\)/.exec(pdf.subarray(0, 4096).toString('latin1'));
  return m ? Number(m[1]) : null;
}

/**
 * Makes `target` (the path Browserless's playwright-core expects, `…/chrome-linux64/chrome`) run `binary`. Its
 * folder gets a link to every file beside the binary, not only a link to the binary: the headless shell loads
 * libEGL/libGLESv2/libvk_swiftshader and vk_swiftshader_icd.json from the folder of the path it was started by,
 * not from the link's target, and 153 with `--in-process-gpu` aborts the whole browser (SIGTRAP, "eglInitialize
 * SwANGLE failed") when they are missing there — 147 logs the same and carries on.
 */
function linkChromium(binary: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  for (const name of readdirSync(dirname(binary))) {
    if (name !== basename(binary) && name !== basename(target)) symlinkSync(join(dirname(binary), name), join(dirname(target), name));
  }
  symlinkSync(binary, target);
}

async function main() {
  installPeers();
  const engine = await findChromium();
  const children: ChildProcess[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'press-bench-peers-run-'));
  const press = await startBenchServer();
  try {
    // Hand-written puppeteer server.
    const pup = await startPuppeteerServer(engine);
    children.push(pup.child);

    // Browserless: it launches playwright-core's Chromium path; point that path at our headless shell.
    const node24 = join(dir, 'node_modules/node/bin/node');
    const browsersPath = join(scratch, 'ms-playwright');
    const blessRoot = join(dir, 'node_modules/@browserless.io/browserless');
    const expected = spawnSync(node24, ['--input-type=module', '-e', "import p from 'playwright-core'; console.log(p.chromium.executablePath())"], {
      cwd: blessRoot, env: { ...process.env, PLAYWRIGHT_BROWSERS_PATH: browsersPath },
    }).stdout.toString().trim();
    if (!expected) throw new Error('could not learn where Browserless looks for Chromium');
    const blessChromium = process.env.BENCH_BROWSERLESS_CHROMIUM || engine.executablePath;
    linkChromium(blessChromium, expected);
    const blessVersion = spawnSync(blessChromium, ['--version']).stdout.toString().trim();
    const blessPort = await freePort();
    // Browserless runs in its package folder (it reads ./package.json) and reads
    // ./node_modules/playwright-core/browsers.json there: npm hoisted that dependency, so link it back.
    const nested = join(blessRoot, 'node_modules/playwright-core');
    if (!existsSync(nested)) symlinkSync(join(dir, 'node_modules/playwright-core'), nested);
    const bless = spawn(node24, [join(dirname(fileURLToPath(import.meta.url)), 'browserless-server.mjs')], {
      cwd: blessRoot,
      env: {
        ...process.env, TMPDIR: benchTmpdir(), PEERS_DIR: dir, PLAYWRIGHT_BROWSERS_PATH: browsersPath, HOST: '127.0.0.1', PORT: String(blessPort), TOKEN,
        CONCURRENT: '4', QUEUED: '100', TIMEOUT: '60000', DEBUG: process.env.BENCH_PEERS_DEBUG || 'browserless*,-**:verbose',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(bless);
    if (process.env.BENCH_PEERS_LOG) {
      const log = createWriteStream(process.env.BENCH_PEERS_LOG);
      bless.stdout?.pipe(log);
      bless.stderr?.pipe(log);
    }
    await started(bless, /HTTP Server is listening/, 'Browserless');

    const deployId = await press.deploy('bench-peers', onePage);
    // Browserless gets our flags (its own --no-sandbox and --remote-debugging-port come first).
    const blessUrl = `http://127.0.0.1:${blessPort}/chromium/pdf?token=${TOKEN}&launch=${encodeURIComponent(JSON.stringify({ args: engine.args, ...(process.env.BENCH_PEERS_DUMPIO ? { dumpio: true } : {}) }))}`;
    const blessBody = JSON.stringify({ html: onePage, options: { preferCSSPageSize: true, printBackground: true }, gotoOptions: { waitUntil: 'load' } });
    const pressPdf = async () => {
      const { job } = (await press.api('POST', '/v1/render-jobs?wait=60', { deployId })).json();
      return (await press.api('GET', `/v1/render-jobs/${job?.id}/output`)).body;
    };
    const paths = [
      { name: 'Press Cloud API (create ?wait + download)', one: () => press.apiDoc(deployId), pdf: pressPdf },
      { name: 'puppeteer server (page per request)', one: () => pup.one(onePage) },
      { name: `Browserless ${peerVersion('@browserless.io/browserless')} /chromium/pdf`, one: () => pdfOver(blessUrl, blessBody, 'application/json') },
    ].map((p) => ({ ...p, pdf: p.pdf ?? (async () => (await p.one()).pdf ?? Buffer.alloc(0)) }));
    // Which Chromium each server really printed with, from one PDF of each (not from the path we gave it).
    const milestones = new Map<string, number | null>();
    for (const p of paths) milestones.set(p.name, pdfMilestone(await p.pdf()));
    const seen = new Set(milestones.values());
    if ([...seen].some((m) => m === null)) {
      throw new Error(`a server printed no PDF with a Chromium producer: ${JSON.stringify(Object.fromEntries(milestones))}`);
    }
    if (seen.size > 1 && !process.env.BENCH_BROWSERLESS_CHROMIUM) {
      throw new Error(`the servers rendered on different Chromium milestones (${JSON.stringify(Object.fromEntries(milestones))}): their ratios would cross versions; set BENCH_BROWSERLESS_CHROMIUM to compare them on purpose`);
    }
    const rows: Array<{ name: string } & Awaited<ReturnType<typeof closedLoop>>> = [];
    for (const c of [1, 2, 4]) {
      for (const p of paths) {
        await closedLoop(c, c, p.one); // warm up (pages, first launch)
        const r = await closedLoop(c, N, p.one);
        rows.push({ name: p.name, ...r });
        process.stderr.write(`c=${c} ${p.name}: ${r.docsPerSec.toFixed(1)} docs/s, p50 ${r.p50.toFixed(0)} ms, failures ${r.failures}\n`);
      }
    }
    console.log(`\nPeers benchmark — ${machineLine()}`);
    const same = seen.size === 1 && blessChromium === engine.executablePath;
    console.log(`Chromium: ${engine.engine} ${(await request(`${press.url}/readyz`)).json().checks?.renderer?.detail?.version ?? ''} (${engine.executablePath})${same ? ', same binary and flags for all three' : `; Browserless on ${blessChromium} (${blessVersion}), on purpose`}; the Chromium column is the milestone in each server's PDF producer; Press Cloud: ${press.how}; puppeteer-core ${peerVersion('puppeteer-core')}, Node ${spawnSync(node24, ['--version']).stdout.toString().trim()} for Browserless.`);
    console.log(`One-page invoice, ${N} documents per row after c warm-up ones; latency = request → PDF received (Press: create → succeeded).\n`);
    console.log('| c | server | Chromium | docs/s | p50 ms | p95 ms | failures | Press Cloud ÷ this |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const ours = rows.find((x) => x.c === r.c && x.name === paths[0].name)!;
      console.log(`| ${r.c} | ${r.name} | m${milestones.get(r.name)} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.failures} | ${(ours.docsPerSec / r.docsPerSec).toFixed(2)} |`);
    }
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await press.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
