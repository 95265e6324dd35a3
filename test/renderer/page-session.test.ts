import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigate } from '../../packages/engine/src/chromium/page-calls.js';
import { openBrowserSession, openPageSession } from '../../packages/engine/src/chromium/page-session.js';
import { launchBareBrowser } from './support.js';

// The slot's CDP session is made on Playwright's in-process server (its internals): this fails when a Playwright
// upgrade loses that fast path, which would otherwise go unnoticed (the public session serves, slower).
let browser: Browser;

beforeAll(async () => {
  browser = await launchBareBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('openPageSession', () => {
  it("is made on Playwright's server, answers commands and delivers the page's events", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const session = await openPageSession(context, page);
    expect(session.path).toBe('server');
    await Promise.all([session.send('Page.enable'), session.send('Network.enable')]);
    const frames: string[] = [];
    const onNavigated = ({ frame }: { frame: { url: string } }) => frames.push(frame.url);
    session.on('Page.frameNavigated', onNavigated);
    const opened = await navigate(session, 'data:text/html,<title>t</title><p>hello</p>');
    expect(opened.status).toBe(200);
    expect(frames).toEqual(['data:text/html,<title>t</title><p>hello</p>']);
    session.off('Page.frameNavigated', onNavigated);
    await navigate(session, 'about:blank');
    expect(frames).toHaveLength(1);
    const { result } = await session.send<{ result: { value: number } }>('Runtime.evaluate', { expression: '6 * 7', returnByValue: true });
    expect(result.value).toBe(42);
    await context.close();
  });

  it("makes the browser session (the memory watch's process list) on Playwright's server too", async () => {
    const context = await browser.newContext();
    await context.newPage();
    const session = await openBrowserSession(browser);
    expect(session.path).toBe('server');
    const { processInfo } = await session.send<{ processInfo: Array<{ type: string; id: number }> }>('SystemInfo.getProcessInfo');
    expect(processInfo.some((p) => p.type === 'renderer' && p.id > 0)).toBe(true);
    await context.close();
  });
});
