import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cleanEnv, press, project, REPO } from './support.js';

/* Spec §9.1 and issue 10 §2: `press render` (local and --remote) and `press jobs get` show what went wrong inside
 * the page, bounded, on stderr for renders (stdout keeps the result), and a page that throws but renders still
 * succeeds with a warning. */

/** A manual-ready template that throws before it gets to pressCloud.ready() (no payload here: `data` is null). */
const THROWS = readFileSync(join(REPO, 'test/fixtures/apps/tricky/manual-throws.html'), 'utf8');

/** Renders, but warns, throws (line 7), reads a file missing from the version and tries the internet. */
const WARNS = `<!doctype html>
<html>
<head><meta charset="utf-8"></head>
<body><p id="out">loading</p>
<script>
  console.warn('falling back to the default currency');
  undefinedFunction();
</script>
<script>
  (async () => {
    await fetch('data/missing.json');
    await fetch('https://example.com/tracking.gif').catch(() => undefined);
    document.getElementById('out').textContent = 'rendered anyway';
  })();
</script>
</body>
</html>
`;

/** Renders, after 30 console errors: more than the CLI prints and more than a job keeps (20 per list). */
const NOISY = `<!doctype html>
<html><head><meta charset="utf-8"></head>
<body><p>noisy</p><script>for (let i = 1; i <= 30; i++) console.error('row ' + i + ' has no price');</script></body>
</html>
`;

const TOML = `
[pdf.throws]
dir = "."
entry = "manual-throws.html"

[pdf.warns]
dir = "."
entry = "warns.html"

[pdf.noisy]
dir = "."
entry = "noisy.html"
`;

const TYPE_ERROR = "page error: TypeError: Cannot read properties of null (reading 'customer') (https://app.press.internal/manual-throws.html:9)";
const lines = (text: string) => text.split('\n');

describe('press prints page diagnostics (built CLI, child process)', () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    // the server's own render limit is short, so a remote render fails with render_timeout (not the CLI's wait)
    s = await startTestServer({ PRESS_RENDER_TIMEOUT_MS: '3000' });
    env = cleanEnv({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: s.adminKey, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'press-cli-home-')) });
    dir = project(TOML, { 'manual-throws.html': THROWS, 'warns.html': WARNS, 'noisy.html': NOISY });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('a template that throws before it signals ready: the timeout names the TypeError and what it waited for, locally and remotely', async () => {
    const local = await press(['render', 'throws', '--timeout', '2000'], { env, cwd: dir });
    expect(local.code, local.stderr).toBe(6);
    expect(local.stdout).toBe('');
    const l = lines(local.stderr);
    expect(l).toContain('the page reported 1 page problem before the render of throws failed:');
    expect(l).toContain(`  ${TYPE_ERROR}`);
    expect(local.stderr).toMatch(
      /press: render did not finish within 2000 ms while waiting for pressCloud\.ready\(\) .*; last page error: TypeError: Cannot read properties of null \(reading 'customer'\) .*\(render_timeout\)\n$/,
    );

    const remote = await press(['render', 'throws', '--remote', '--timeout', '30000', '--business-key', 'diag-throws'], { env, cwd: dir });
    expect(remote.code, remote.stderr).toBe(6);
    const [job] = (await s.request('GET', '/v1/render-jobs?businessKey=diag-throws')).body.items;
    expect(job).toMatchObject({ status: 'failed', error: { code: 'render_timeout' } });
    const r = lines(remote.stderr);
    expect(r).toContain(`the page reported 1 page problem before render job ${job.id} failed:`);
    expect(r).toContain(`  ${TYPE_ERROR}`);
    expect(remote.stderr).toMatch(/while waiting for pressCloud\.ready\(\) .*; last page error: TypeError: .*\(render_timeout\)\n$/);

    // press jobs get shows the job's problems with the job (stdout: it is what was asked for)
    const got = await press(['jobs', 'get', job.id], { env });
    expect(got.code, got.stderr).toBe(0);
    expect(lines(got.stdout)).toEqual(expect.arrayContaining([`  1 page problem:`, `    ${TYPE_ERROR}`]));
    expect(got.stdout).toContain(`job ${job.id}: failed — render_timeout: render did not finish within 3000 ms while waiting for pressCloud.ready() (the page has data-press-wait="manual"); last page error: TypeError`);
  }, 120_000);

  it('a page that throws, warns and reads a missing file but renders: exit 0, the PDF, and a warning listing each problem', async () => {
    const expected = [
      '  page error: ReferenceError: undefinedFunction is not defined (https://app.press.internal/warns.html:7)',
      '  console warning: falling back to the default currency (https://app.press.internal/warns.html:6)',
      '  failed request: https://app.press.internal/data/missing.json → 404',
      '  blocked request: https://example.com/tracking.gif (external_network_not_allowed)',
    ];
    const local = await press(['render', 'warns'], { env, cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/^rendered warns locally → warns\.pdf \(1 page, /);
    expect(await pdfText(readFileSync(join(dir, 'warns.pdf')))).toContain('rendered anyway');
    const l = lines(local.stderr);
    const head = l.findIndex((x) => x.startsWith('press: warning: the render of warns succeeded, but the page reported '));
    expect(head, local.stderr).toBeGreaterThanOrEqual(0);
    expect(l).toEqual(expect.arrayContaining(expected));

    // remote with --json: stdout stays one JSON document (with the diagnostics), the warning goes to stderr
    const remote = await press(['render', 'warns', '--remote', '--json'], { env, cwd: dir });
    expect(remote.code, remote.stderr).toBe(0);
    const result = JSON.parse(remote.stdout);
    expect(result.diagnostics.failedRequests).toContainEqual({ url: 'https://app.press.internal/data/missing.json', status: 404, error: null });
    expect(lines(remote.stderr)).toContain(`press: warning: render job ${result.jobId} succeeded, but the page reported ${lines(remote.stderr).filter((x) => x.startsWith('  ')).length} page problems:`);
    expect(lines(remote.stderr)).toEqual(expect.arrayContaining(expected));

    const got = await press(['jobs', 'get', result.jobId], { env });
    expect(got.stdout).toContain(`job ${result.jobId}: succeeded`);
    expect(lines(got.stdout)).toEqual(expect.arrayContaining(expected.map((x) => `  ${x}`)));
  }, 120_000);

  it('prints at most 10 problems, then how many more (counting those the renderer did not keep)', async () => {
    const local = await press(['render', 'noisy'], { env, cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    const l = lines(local.stderr);
    // 30 errors: the job keeps 20, the CLI shows 10 of them and counts the other 20
    expect(l).toContain('press: warning: the render of noisy succeeded, but the page reported 30 page problems:');
    expect(l).toContain('  console error: row 1 has no price (https://app.press.internal/noisy.html:3)');
    expect(l).toContain('  console error: row 10 has no price (https://app.press.internal/noisy.html:3)');
    expect(local.stderr).not.toContain('row 11 ');
    expect(l).toContain('  … and 20 more');
  }, 60_000);
});
