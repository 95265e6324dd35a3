import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { renderRequest } from './support.js';

// Playwright reports every navigation request, console message argument and frame to its client and keeps both
// sides' objects until the page closes (or 10 000 of a kind exist in the process): on a warm page that serves
// thousands of renders that was the render process's heap growth per browser (docs/performance.md). The pool drops
// them at each reset.

/** Objects of a kind Playwright's client holds in this process (its connection's table of live objects). */
function held(type: string): number {
  const objects = (chromium as unknown as { _connection: { _objects: Map<string, { _type: string }> } })._connection._objects;
  return [...objects.values()].filter((o) => o._type === type).length;
}

describe("Playwright's objects for a warm page's renders", () => {
  const renderer = new ChromiumRenderer({ capacity: 1, sparePage: false });
  afterAll(() => renderer.close());

  it('stay bounded over many renders on one page', async () => {
    const RENDERS = 15;
    for (let i = 0; i < RENDERS; i++) expect((await renderer.render(renderRequest('simple'))).pageCount).toBe(1);
    // Nothing of the renders' requests is held once the last reset (which follows render()) is done; without the
    // release: one Request and one Response per render.
    await expect.poll(() => held('Request'), { timeout: 5_000 }).toBe(0);
    expect(held('Response')).toBe(0);
    // At most two warm pages (capacity + 1) served them all: it is not closing pages that bounds the count.
    expect(held('Page')).toBeLessThanOrEqual(2);
    expect((await renderer.render(renderRequest('simple'))).pageCount).toBe(1);
  });

  it("stay bounded for renders that log to the console and load frames", async () => {
    const RENDERS = 10;
    const frames = held('Frame');
    for (let i = 0; i < RENDERS; i++) expect((await renderer.render(renderRequest('console-frames'))).pageCount).toBe(1);
    // Without the release: 4 console arguments (JSHandles) and 2 frames per render, kept after the frames detach.
    await expect.poll(() => held('JSHandle'), { timeout: 5_000 }).toBe(0);
    expect(held('Request')).toBe(0);
    await expect.poll(() => held('Frame'), { timeout: 5_000 }).toBe(frames);
  });
});
