import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLEAR_ON_NEW_DOCUMENT } from '../../packages/engine/src/chromium/browser-pool.js';
import { launchBareBrowser } from './support.js';

// The reset's one-shot script on its own, registered for a whole navigation chain (in the pool it is removed at the
// first commit, usually before any frame or second document exists; Chromium can deliver that removal late, so
// the script itself must leave frames and a render's own documents alone).
const PAGES: Record<string, string> = {
  '/first.html': `<!doctype html><script>
    sessionStorage.setItem('seen', [sessionStorage.getItem('mark') ?? 'none', window.name || 'none'].join(','));
    sessionStorage.setItem('own', 'kept'); window.name = 'own-name';
    location.replace('framed.html');
  </script>`,
  '/framed.html': `<!doctype html>
    <iframe name="loaded" src="child.html"></iframe><iframe name="quiet" src="child.html" referrerpolicy="no-referrer"></iframe>
    <iframe name="blank"></iframe><iframe name="srcdoc" srcdoc="<p>srcdoc</p>"></iframe>
    <script>addEventListener('load', () => {
      const mine = ['seen', 'own'].map((k) => sessionStorage.getItem(k) ?? 'lost');
      document.title = [...mine, window.name || 'lost', ...Array.from(frames, (f) => f.name || 'none')].join(' ');
    });</script>`,
  '/child.html': '<p>child</p>',
};

let browser: Browser;
beforeAll(async () => {
  browser = await launchBareBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('the one-shot clear of sessionStorage and window.name', () => {
  it('clears the entry document only: not frames, not documents the render navigates to', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.route('**/*', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: PAGES[new URL(route.request().url()).pathname] ?? '' }),
    );
    // What an earlier render left: sessionStorage of the origin and the tab's window.name.
    await page.goto('https://app.test/child.html');
    await page.evaluate(() => {
      sessionStorage.setItem('mark', 'earlier');
      window.name = 'earlier-name';
    });
    await page.goto('about:blank');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Page.enable');
    await cdp.send('Page.addScriptToEvaluateOnNewDocument', { source: CLEAR_ON_NEW_DOCUMENT });
    await page.goto('https://app.test/first.html');
    await page.waitForURL('**/framed.html');
    await page.waitForFunction(() => document.title !== '');
    // first.html saw nothing of the earlier render; framed.html (same render, with a referrer) kept what first.html
    // wrote, and every named frame kept its name.
    expect(await page.title()).toBe('none,none kept own-name loaded quiet blank srcdoc');
    await context.close();
  });
});
