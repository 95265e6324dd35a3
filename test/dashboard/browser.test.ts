import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../packages/engine/src/chromium/find-chromium.js';
import { ensureDashboardBuilt } from '../helpers/build.js';
import { ROOT } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cleanEnv, INVOICE_DIR, press } from '../client/support.js';

/**
 * The dashboard in a real browser (the renderer's own headless shell, driven by playwright-core) against a real
 * server with the real renderer, walking issue 14's flow end to end. Every page visited is checked with axe-core.
 * PRESS_UPDATE_SCREENSHOTS=1 copies the screenshots taken on the way into docs/screenshots/.
 */
ensureDashboardBuilt();
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = mkdtempSync(join(tmpdir(), 'press-dashboard-shots-'));
const OWNER = { name: 'Olivia Owner', email: 'olivia@example.com', password: 'correct horse battery' };
const VIEWER = { name: 'Victor Viewer', email: 'victor@example.com', password: 'another long password' };

/** how long a condition may take to hold in the browser (generous: CI runs test files side by side) */
const POLL_MS = 20_000;

let s: TestServer;
let browser: Browser;
let owner: BrowserContext;
let guest: BrowserContext;

beforeAll(async () => {
  s = await startTestServer({ PRESS_PASSWORD_HASH_COST: '12' });
  const found = await findChromium();
  // the renderer's flags minus its dead proxy: this browser must reach the test server on loopback
  const args = found.args.filter((a) => !a.startsWith('--proxy-server') && !a.startsWith('--proxy-bypass-list'));
  browser = await chromium.launch({ executablePath: found.executablePath, args, headless: true });
  owner = await browser.newContext({ viewport: { width: 1280, height: 860 }, baseURL: s.url });
  guest = await browser.newContext({ viewport: { width: 1280, height: 860 }, baseURL: s.url });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  if (process.env.PRESS_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(ROOT, 'docs/screenshots'), { recursive: true });
    for (const f of ['sign-in', 'overview', 'api-keys', 'deploy-versions', 'render-job', 'deploy-settings', 'members', 'audit-log']) {
      try {
        copyFileSync(join(SHOTS, `${f}.png`), join(ROOT, 'docs/screenshots', `${f}.png`));
      } catch { /* a failed walk took fewer */ }
    }
  }
});

/** axe-core on the page as it is now: no violations of WCAG 2.x A/AA (labels, contrast, names, landmarks). */
async function axe(page: Page, what: string) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v: any) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')).join(', ')}`);
  });
  expect(violations, `axe on ${what}`).toEqual([]);
}

/** a link of the sidebar's navigation */
const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Workspace pages' }).getByRole('link', { name, exact: true });

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

describe('the dashboard in a browser', () => {
  it('setup → sign in → workspace → key → press deploy → render live → preview → invite → viewer → remove → audit', async () => {
    const page = await owner.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // --- first run: the setup link the server printed ---
    expect(s.setupUrl).toMatch(/\/setup#token=pcsetup_/);
    await page.goto(s.setupUrl!);
    await axe(page, 'setup');
    await page.getByLabel('Your name').fill(OWNER.name);
    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create the owner' }).click();
    await page.waitForURL(/\/w\/acct_/);
    expect(page.url()).not.toContain('pcsetup_'); // the spent token leaves the address bar

    // --- sign out, sign in ---
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill('wrong password!!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: POLL_MS }).toMatch(/invalid_credentials|password/i);
    await axe(page, 'sign-in');
    await shot(page, 'sign-in');
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/w\/acct_/);

    // --- a new team workspace from the switcher ---
    await page.getByRole('combobox', { name: 'Workspace' }).selectOption({ label: '+ New workspace…' });
    await page.getByLabel('New workspace name').fill('Acme Documents');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.waitForURL(/\/w\/acct_[\w-]+$/);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), { timeout: POLL_MS }).toBe('Acme Documents');
    const ws = /\/w\/(acct_[\w-]+)/.exec(page.url())![1];
    await expect.poll(() => page.getByRole('meter', { name: 'Render jobs' }).count(), { timeout: POLL_MS }).toBe(1);
    await axe(page, 'overview');

    // --- an API key, shown once ---
    await nav(page, 'API keys').click();
    await page.getByLabel('Key name').fill('ci deploys');
    await page.getByLabel('Role').selectOption('admin');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.getByTestId('new-key').textContent())!;
    expect(key).toMatch(/^pcak_/);
    await expect.poll(() => page.getByRole('button', { name: 'Copy key' }).count(), { timeout: POLL_MS }).toBe(1);
    await expect.poll(() => page.getByRole('cell', { name: 'ci deploys', exact: true }).count(), { timeout: POLL_MS }).toBe(1);
    // disable and enable it again: the API answers accordingly
    await page.getByRole('button', { name: 'Disable key ci deploys' }).click();
    await expect.poll(async () => (await s.request('GET', '/v1/deploys', { key })).body.error, { timeout: POLL_MS }).toBe('api_key_disabled');
    await page.getByRole('button', { name: 'Enable key ci deploys' }).click();
    await expect.poll(async () => (await s.request('GET', '/v1/deploys', { key })).status, { timeout: POLL_MS }).toBe(200);
    await axe(page, 'api keys');
    await shot(page, 'api-keys');

    // --- press deploy, the built CLI as a child process, with that key ---
    const env = cleanEnv({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: key, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'press-dash-cli-')) });
    const deployed = await press(['deploy', INVOICE_DIR, '--slug', 'invoices', '--name', 'Invoices', '--json'], { env });
    expect(deployed.code, deployed.stderr).toBe(0);
    const { deployId, deployVersion } = JSON.parse(deployed.stdout) as { deployId: string; deployVersion: { id: string } };

    // --- the version appears; promote it to preview ---
    await nav(page, 'Deploys').click();
    await page.getByRole('link', { name: 'Invoices' }).click();
    await page.waitForURL(new RegExp(`/deploys/${deployId}`));
    await page.getByRole('button', { name: `Promote ${deployVersion.id} to preview` }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Aliases' }).getByRole('cell', { name: 'preview', exact: true }).count(), { timeout: POLL_MS }).toBe(1);
    await axe(page, 'deploy versions');
    await shot(page, 'deploy-versions');
    await page.getByRole('link', { name: deployVersion.id }).first().click();
    await expect.poll(() => page.getByRole('cell', { name: 'index.html', exact: true }).count(), { timeout: POLL_MS }).toBe(1);
    await page.goBack();

    // --- settings: staged save of an env var, a write-only secret ---
    await page.getByRole('navigation', { name: 'Deploy sections' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name', { exact: true }).last().fill('COMPANY');
    await page.getByLabel('Value', { exact: true }).last().fill('Acme Ltd');
    await page.getByLabel('Secret name').fill('BILLING_TOKEN');
    await page.getByLabel('Secret value').fill('s3cret-value');
    await page.getByRole('button', { name: 'Stage secret' }).click();
    await expect.poll(() => page.getByText('Unsaved changes').count(), { timeout: POLL_MS }).toBe(1);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByText('Unsaved changes').count(), { timeout: POLL_MS }).toBe(0);
    const settings = await s.request('GET', `/v1/deploys/${deployId}/settings`, { key });
    expect(settings.body.settings).toMatchObject({ env: { COMPANY: 'Acme Ltd' }, secrets: ['BILLING_TOKEN'] });
    expect(await page.content()).not.toContain('s3cret-value');
    await axe(page, 'deploy settings');
    await shot(page, 'deploy-settings');

    // --- render from the UI and watch it finish without a reload ---
    await page.getByRole('link', { name: 'Render', exact: true }).click();
    await page.getByLabel('Business key').fill('INV-2026-001');
    await page.getByLabel('Payload (JSON)').fill(readFileSync(join(INVOICE_DIR, 'payload.json'), 'utf8'));
    await page.getByRole('button', { name: 'Render', exact: true }).click();
    await page.waitForURL(/\/jobs\/rj_/);
    // every status the page shows, as it shows it (the first render of a fresh server also starts the browser, so
    // the job is seen unfinished first)
    await page.evaluate(() => {
      const w = window as any;
      w.__sameDocument = true;
      w.__statuses = [];
      const note = () => {
        const t = document.querySelector('[data-testid="job-status"]')?.textContent?.trim();
        if (t && w.__statuses[w.__statuses.length - 1] !== t) w.__statuses.push(t);
      };
      note();
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 90_000, interval: 100 }).toBe('succeeded');
    const statuses: string[] = await page.evaluate(() => (window as any).__statuses);
    expect(statuses.at(-1)).toBe('succeeded');
    expect(statuses.some((x) => ['queued', 'rendering'].includes(x)), statuses.join(' → ')).toBe(true);
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true); // live: no reload happened

    // --- the PDF's pages drawn inline by pdf.js ---
    await page.getByRole('button', { name: 'Preview PDF' }).click();
    await page.locator('canvas.page[data-drawn="true"]').first().waitFor({ timeout: 30_000 });
    const drawnPixels = await page.locator('canvas.page').first().evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    });
    expect(drawnPixels).toBeGreaterThan(100); // text was drawn, not a blank canvas
    await axe(page, 'render job');
    await shot(page, 'render-job');

    // --- invite a viewer ---
    await nav(page, 'Members').click();
    await page.getByLabel('E-mail to invite').fill(VIEWER.email);
    await page.getByLabel('Invite as').selectOption('viewer');
    await page.getByRole('button', { name: 'Invite' }).click();
    const link = (await page.getByTestId('invite-link').textContent())!;
    expect(link).toContain('/accept-invitation#token=pcinv_');

    // --- the second user accepts in their own browser ---
    const vpage = await guest.newPage();
    await vpage.goto(link);
    await expect.poll(() => vpage.getByText('Acme Documents').count(), { timeout: POLL_MS }).toBeGreaterThan(0);
    await axe(vpage, 'accept invitation');
    await vpage.getByLabel('Your name').fill(VIEWER.name);
    await vpage.getByLabel('Choose a password').fill(VIEWER.password);
    await vpage.getByRole('button', { name: 'Accept invitation' }).click();
    await vpage.waitForURL(new RegExp(`/w/${ws}$`));

    // a viewer cannot create a key: no form, and the API refuses it too
    await nav(vpage, 'API keys').click();
    await expect.poll(() => vpage.getByRole('note').textContent(), { timeout: POLL_MS }).toMatch(/Only admins and the owner/);
    expect(await vpage.getByRole('button', { name: 'Create key' }).count()).toBe(0);
    const refused = await vpage.evaluate(async (w) => {
      const csrf = (await (await fetch('/v1/session')).json()).csrfToken;
      const r = await fetch('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, 'press-workspace': w }, body: JSON.stringify({ name: 'mine', role: 'viewer' }) });
      return { status: r.status, body: await r.json() };
    }, ws);
    expect(refused).toMatchObject({ status: 403, body: { error: 'insufficient_permission' } });

    // the owner makes them an admin; now they make a key of their own
    await page.reload();
    await page.getByLabel(`Role of ${VIEWER.email}`).selectOption('admin');
    await expect.poll(async () => (await s.request('GET', '/v1/members', { key })).body.items.find((m: { email: string }) => m.email === VIEWER.email)?.role, { timeout: POLL_MS }).toBe('admin');
    await vpage.reload();
    await vpage.getByLabel('Key name').fill('victor laptop');
    await vpage.getByLabel('Role').selectOption('viewer');
    await vpage.getByRole('button', { name: 'Create key' }).click();
    const victorKey = (await vpage.getByTestId('new-key').textContent())!;
    expect((await s.request('GET', '/v1/deploys', { key: victorKey })).status).toBe(200);

    // --- remove the member: their key stops working at once ---
    await page.getByRole('button', { name: `Remove ${VIEWER.email}` }).click();
    await expect.poll(() => page.getByRole('cell', { name: VIEWER.email, exact: true }).count(), { timeout: POLL_MS }).toBe(0);
    const after = await s.request('GET', '/v1/deploys', { key: victorKey });
    expect(after.status).toBe(403);
    expect(after.body.error).toBe('insufficient_permission');
    await axe(page, 'members');
    await shot(page, 'members');

    // --- the audit log shows it all ---
    await nav(page, 'Audit log').click();
    for (const action of [
      'workspace.created', 'api_key.created', 'api_key.disabled', 'deploy.created', 'alias.updated', 'deploy.env_updated', 'deploy.secrets_updated',
      'invitation.created', 'member.added', 'member.role_changed', 'member.removed',
    ]) {
      await expect.poll(() => page.getByRole('cell', { name: action, exact: true }).count(), { message: action, timeout: POLL_MS }).toBeGreaterThan(0);
    }
    await axe(page, 'audit log');
    await shot(page, 'audit-log');

    // --- the workspace webhook secret: rotated, shown once behind the eye button ---
    await nav(page, 'Settings').click();
    const before = await page.getByText(/^Current:/).textContent();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Reveal' }).click();
    const revealed = (await page.locator('.secret-once code.secret').textContent())!;
    expect(revealed).toMatch(/^whsec_/);
    await expect.poll(() => page.getByText(/^Current:/).textContent(), { timeout: POLL_MS }).not.toBe(before);
    await page.getByRole('button', { name: 'Hide' }).click();
    expect(await page.locator('.secret-once code.secret').textContent()).not.toContain('whsec_');
    await axe(page, 'workspace settings');

    // the overview again, now with usage
    await nav(page, 'Overview').click();
    await expect.poll(() => page.getByRole('meter', { name: 'Render jobs' }).getAttribute('aria-valuenow'), { timeout: POLL_MS }).toBe('1');
    await shot(page, 'overview');

    expect(pageErrors).toEqual([]);
  }, 240_000);
});
