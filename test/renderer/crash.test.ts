import { describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { fixtureFiles, renderError, renderRequest, useRenderer } from './support.js';
import type { FixtureFiles } from './support.js';

const renderer = useRenderer({ capacity: 2, recycleAfterRenders: 4 });

/** Resolves once the page has asked for the entry: the render holds a page and is waiting for readiness. */
async function whileRendering(files: FixtureFiles): Promise<void> {
  // Bytes are only opened for the page's own request (the renderer's entry check only looks the path up).
  while (files.served.length === 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
}

describe('browser lifecycle', () => {
  it('fails an in-flight render retryably when the browser crashes, then renders on a fresh browser', async () => {
    const restartsBefore = renderer().status().restarts;
    const files = fixtureFiles('never-ready');
    const pending = renderError(renderer().render(renderRequest('never-ready', { files, timeoutMs: 15_000 })));
    await whileRendering(files);
    const started = Date.now();
    await renderer().crashForTest('browser');
    const err = await pending;
    expect(err.code).toBe('render_internal_error');
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);

    const result = await renderer().render(renderRequest('simple'));
    expect(result.pageCount).toBe(1);
    const status = renderer().status();
    expect(status.ready).toBe(true);
    expect(status.restarts).toBe(restartsBefore + 1);
  });

  it('fails with a retryable render_page_crashed when the page crashes, and the account keeps rendering', async () => {
    const files = fixtureFiles('never-ready');
    const pending = renderError(renderer().render(renderRequest('never-ready', { files, timeoutMs: 15_000 })));
    await whileRendering(files);
    await renderer().crashForTest('pages');
    const err = await pending;
    expect(err.code).toBe('render_page_crashed');
    expect(err.retryable).toBe(true);
    expect((await renderer().render(renderRequest('simple'))).pageCount).toBe(1);
  });

  it('recycles the browser after the configured number of renders without failing renders', async () => {
    // A recycle launches the next browser in the background while renders go on in the old one, so the count of
    // recycles moves some time after the render that started it (a launch took seconds on a loaded machine, longer
    // than the renders left in a fixed loop: the flake). Each round: the configured 4 renders, then wait for the
    // recycle they started to complete.
    const recycles = () => renderer().status().memory!.browsersRecycledByCount;
    const before = recycles();
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 4; i++) {
        const result = await renderer().render(renderRequest('simple', { accountId: `acct_${i % 3}` }));
        expect(result.pageCount).toBe(1);
      }
      for (let waited = 0; recycles() < before + round && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(recycles()).toBeGreaterThanOrEqual(before + round);
    }
    expect(renderer().status().ready).toBe(true);
  });

  it('keeps at most maxIdlePages warm pages', async () => {
    const capped = new ChromiumRenderer({ capacity: 1, maxIdlePages: 2, sparePage: false });
    try {
      for (const accountId of ['acct_1', 'acct_2', 'acct_3', 'acct_4']) {
        expect((await capped.render(renderRequest('simple', { accountId }))).pageCount).toBe(1);
      }
      // Resets finish just after render() returns.
      await new Promise((r) => setTimeout(r, 300));
      expect(capped.status().contexts).toBeLessThanOrEqual(2);
      // An account whose page was closed simply gets a new one.
      expect((await capped.render(renderRequest('simple', { accountId: 'acct_1' }))).pageCount).toBe(1);
    } finally {
      await capped.close();
    }
  });

  it('fails queued and new renders once closed', async () => {
    const closing = new ChromiumRenderer({ capacity: 1 });
    await closing.start();
    const first = renderError(closing.render(renderRequest('never-ready', { timeoutMs: 10_000 })));
    const queued = renderError(closing.render(renderRequest('simple')));
    await new Promise((r) => setTimeout(r, 300));
    await closing.close();
    expect((await first).retryable).toBe(true);
    expect((await queued).code).toBe('render_internal_error');
    expect((await renderError(closing.render(renderRequest('simple')))).code).toBe('render_internal_error');
    expect(closing.status().ready).toBe(false);
  });
});
