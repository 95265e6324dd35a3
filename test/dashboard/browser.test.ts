import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt } from '../helpers/build.js';
import { axe, launchBrowser } from './support.js';
import { ROOT } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cleanEnv, INVOICE_DIR, press } from '../client/support.js';
import { Receiver } from '../webhooks/support.js';

/**
 * The dashboard in a real browser (the renderer's own headless shell, driven by playwright-core) against a real
 * server with the real renderer, walking issue 14's flow end to end. Every page visited is checked with axe-core.
 * PRESS_UPDATE_SCREENSHOTS=1 copies the screenshots taken on the way into docs/screenshots/.
 */
ensureDashboardBuilt();
const SHOTS = mkdtempSync(join(tmpdir(), 'press-dashboard-shots-'));
const OWNER = { name: 'Olivia Owner', email: 'olivia@example.com', password: 'correct horse battery' };
const VIEWER = { name: 'Victor Viewer', email: 'victor@example.com', password: 'another long password' };

/** the pages the walk photographs; PRESS_UPDATE_SCREENSHOTS=1 copies them into docs/screenshots/ */
const SCREENSHOTS = [
  'sign-in', 'overview', 'deploy-versions', 'deploy-settings', 'render-jobs', 'render-job', 'webhook-deliveries', 'api-keys', 'members', 'audit-log',
  'workspace-delete',
];

/** how long a condition may take to hold in the browser (generous: CI runs test files side by side) */
const POLL_MS = 20_000;

let s: TestServer;
let browser: Browser;
let owner: BrowserContext;
let guest: BrowserContext;
const receiver = new Receiver();

beforeAll(async () => {
  [s] = await Promise.all([startTestServer({ PRESS_PASSWORD_HASH_COST: '12' }), receiver.start()]);
  browser = await launchBrowser();
  owner = await browser.newContext({ viewport: { width: 1280, height: 860 }, baseURL: s.url });
  guest = await browser.newContext({ viewport: { width: 1280, height: 860 }, baseURL: s.url });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await receiver.stop();
  if (process.env.PRESS_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(ROOT, 'docs/screenshots'), { recursive: true });
    for (const f of SCREENSHOTS) {
      try {
        copyFileSync(join(SHOTS, `${f}.png`), join(ROOT, 'docs/screenshots', `${f}.png`));
      } catch { /* a failed walk took fewer */ }
    }
  }
});

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
    await shot(page, 'sign-in');
    await page.getByLabel('Password').fill('wrong password!!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: POLL_MS }).toMatch(/invalid_credentials|password/i);
    await axe(page, 'sign-in');
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
    await page.getByLabel('Send render.job.terminated to this URL').check();
    await page.getByLabel('Webhook URL').fill(`${receiver.url}/hooks/invoices`);
    await expect.poll(() => page.getByText('Unsaved changes').count(), { timeout: POLL_MS }).toBe(1);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByText('Unsaved changes').count(), { timeout: POLL_MS }).toBe(0);
    const settings = await s.request('GET', `/v1/deploys/${deployId}/settings`, { key });
    expect(settings.body.settings).toMatchObject({ env: { COMPANY: 'Acme Ltd' }, secrets: ['BILLING_TOKEN'], webhook: { enabled: true, url: `${receiver.url}/hooks/invoices` } });
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

    // --- the job's webhook arrived; redeliver it and watch the new attempt's outcome arrive without a reload ---
    await expect.poll(async () => {
      await s.webhooks.runOnce();
      return receiver.on('/hooks/invoices').length;
    }, { timeout: POLL_MS }).toBe(1);
    await page.goto(`/w/${ws}/deploys/${deployId}`);
    await page.getByRole('navigation', { name: 'Deploy sections' }).getByRole('link', { name: 'Webhook deliveries' }).click();
    const deliveries = page.getByRole('table', { name: 'Webhook deliveries' });
    await expect.poll(() => deliveries.getByRole('row').count(), { timeout: POLL_MS }).toBe(2); // header + attempt 1
    expect(await deliveries.getByRole('row').nth(1).getByText('succeeded').count()).toBe(1);
    const jobId = /\/jobs\/(rj_[\w-]+)/.exec(await deliveries.getByRole('link').first().getAttribute('href') ?? '')![1];
    await page.getByRole('button', { name: `Redeliver attempt 1 of job ${jobId}` }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Redelivery queued: attempt 2' }).count(), { timeout: POLL_MS }).toBe(1);
    const again = deliveries.getByRole('row').filter({ hasText: '2 (redelivery)' });
    await expect.poll(() => again.count(), { timeout: POLL_MS }).toBe(1);
    await s.webhooks.runOnce(); // the sender's pass (its timer would do it within the sweep interval)
    await expect.poll(() => again.locator('.status').textContent(), { timeout: POLL_MS }).toBe('succeeded');
    expect(receiver.on('/hooks/invoices')).toHaveLength(2);
    expect(receiver.on('/hooks/invoices')[1].raw).toBe(receiver.on('/hooks/invoices')[0].raw);
    await axe(page, 'webhook deliveries');
    await shot(page, 'webhook-deliveries');

    // the render jobs list: the finished job, filterable
    await nav(page, 'Render jobs').click();
    await expect.poll(() => page.getByRole('table', { name: 'Render jobs' }).getByText('INV-2026-001').count(), { timeout: POLL_MS }).toBe(1);
    await axe(page, 'render jobs');
    await shot(page, 'render-jobs');

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

    // --- ownership goes to the admin and comes back, each time by the owner of the moment ---
    const roleOf = async (email: string) => (await s.request('GET', '/v1/members', { key })).body.items.find((m: { email: string }) => m.email === email)?.role;
    await page.reload();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: `Make ${VIEWER.email} owner` }).click();
    await expect.poll(() => roleOf(VIEWER.email), { timeout: POLL_MS }).toBe('owner');
    expect(await roleOf(OWNER.email)).toBe('admin');
    await nav(vpage, 'Members').click();
    await vpage.reload(); // the new owner's dashboard learns its role on load
    vpage.once('dialog', (d) => void d.accept());
    await vpage.getByRole('button', { name: `Make ${OWNER.email} owner` }).click();
    await expect.poll(() => roleOf(OWNER.email), { timeout: POLL_MS }).toBe('owner');
    expect(await roleOf(VIEWER.email)).toBe('admin');
    await page.reload();

    // --- remove the member: their key stops working at once ---
    await page.getByRole('button', { name: `Remove ${VIEWER.email}` }).click();
    await expect.poll(() => page.getByRole('cell', { name: VIEWER.email, exact: true }).count(), { timeout: POLL_MS }).toBe(0);
    const after = await s.request('GET', '/v1/deploys', { key: victorKey });
    expect(after.status).toBe(403);
    expect(after.body.error).toBe('insufficient_permission');
    // a pending invitation, listed beside the members
    await page.getByLabel('E-mail to invite').fill('pat@example.com');
    await page.getByLabel('Invite as').selectOption('editor');
    await page.getByRole('button', { name: 'Invite' }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'pat@example.com', exact: true }).count(), { timeout: POLL_MS }).toBe(1);
    await axe(page, 'members');
    await shot(page, 'members');

    // --- the audit log shows it all ---
    await nav(page, 'Audit log').click();
    for (const action of [
      'workspace.created', 'api_key.created', 'api_key.disabled', 'deploy.created', 'alias.updated', 'deploy.env_updated', 'deploy.secrets_updated',
      'invitation.created', 'member.added', 'member.role_changed', 'workspace.ownership_transferred', 'member.removed',
    ]) {
      await expect.poll(() => page.getByRole('cell', { name: action, exact: true }).count(), { message: action, timeout: POLL_MS }).toBeGreaterThan(0);
    }
    // the member who was removed is still named, not shown as an id
    const removed = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'member.removed', exact: true }) });
    await expect.poll(() => removed.filter({ hasText: VIEWER.name }).count(), { timeout: POLL_MS }).toBeGreaterThan(0);
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
    // the daily chart: today's bar is drawn, and its screen-reader table says 1
    const chart = page.getByRole('figure').filter({ has: page.getByRole('img', { name: 'Render jobs requested, per day' }) });
    const today = new Date().toISOString().slice(0, 10);
    await expect.poll(() => chart.getByRole('row', { name: `${today} 1` }).count(), { timeout: POLL_MS }).toBe(1);
    const tallest = await chart.locator('svg rect').evaluateAll((rects) => Math.max(...rects.map((r) => Number(r.getAttribute('height')))));
    expect(tallest).toBeGreaterThan(30); // the only day with jobs is the full height of the chart
    await shot(page, 'overview');

    // --- delete an API key for good: it leaves the list, and the API answers 401 at once ---
    await nav(page, 'API keys').click();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete key ci deploys' }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'ci deploys', exact: true }).count(), { timeout: POLL_MS }).toBe(0);
    const gone = await s.request('GET', '/v1/deploys', { key });
    expect(gone.status).toBe(401);
    expect(gone.body.error).toBe('invalid_api_key');

    // --- delete the team workspace through the typed-name dialog ---
    await nav(page, 'Settings').click();
    await page.getByRole('button', { name: 'Delete workspace…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete workspace Acme Documents?' });
    await expect.poll(() => dialog.isVisible(), { timeout: POLL_MS }).toBe(true);
    // focus moved into the dialog, on the field to type in
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('confirm-name');
    const confirm = dialog.getByRole('button', { name: 'Delete this workspace' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Workspace name to confirm').fill('acme documents');
    expect(await confirm.isDisabled()).toBe(true); // exactly the name, case included
    await page.keyboard.press('Escape'); // the dialog closes with the keyboard
    await expect.poll(() => dialog.isVisible(), { timeout: POLL_MS }).toBe(false);
    await page.getByRole('button', { name: 'Delete workspace…' }).click();
    await dialog.getByLabel('Workspace name to confirm').fill('Acme Documents');
    await axe(page, 'delete workspace dialog');
    await shot(page, 'workspace-delete');
    await confirm.click();
    await page.waitForURL((u) => !u.pathname.includes(ws));
    const personal = (await page.getByRole('combobox', { name: 'Workspace' }).inputValue());
    expect(personal).not.toBe(ws);
    expect(await page.getByRole('combobox', { name: 'Workspace' }).locator('option', { hasText: 'Acme Documents' }).count()).toBe(0);
    // the deletion is on record in the owner's personal workspace
    await nav(page, 'Audit log').click();
    await expect.poll(() => page.getByRole('cell', { name: 'workspace.deleted', exact: true }).count(), { timeout: POLL_MS }).toBe(1);

    expect(pageErrors).toEqual([]);
  }, 240_000);
});
