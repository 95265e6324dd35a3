import { afterAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { memoryLogger, renderRequest } from './support.js';

const MiB = 1024 * 1024;

describe('memory bounds: a warm page is recycled by its renderer\'s measured size', () => {
  const logger = memoryLogger();
  // A small page prints in a renderer of ~100 MiB here; the memory-heavy one leaves its renderer far above 400 MiB
  // (and peaks at 1.1–1.9 GiB while it prints: above the default hard per-render bound, which this test is not about).
  const renderer = new ChromiumRenderer({
    capacity: 1,
    sparePage: false,
    memory: { pageBytes: 400 * MiB },
    limits: { maxMemoryBytes: 4096 * MiB },
    logger,
  });
  afterAll(() => renderer.close());

  it('keeps a page whose renderer stays under the bound', async () => {
    for (let i = 0; i < 3; i++) expect((await renderer.render(renderRequest('simple'))).pageCount).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // the reset (and the check after it) follows render()
    const memory = renderer.status().memory!;
    expect(memory.pageBoundMiB).toBe(400);
    expect(memory.largestPageMiB).toBeGreaterThan(0);
    expect(memory.largestPageMiB).toBeLessThan(400);
    expect(memory.pagesRecycled).toBe(0);
    // the page kept its renderer across renders and resets (same-site navigations), so it was measured each time
    expect(logger.entries.filter((e) => e.msg?.includes('cannot be measured'))).toEqual([]);
  });

  it('closes the page after a memory-heavy render, and the account renders on a new one', async () => {
    const result = await renderer.render(renderRequest('memory', { timeoutMs: 30_000 }));
    expect(result.pageCount).toBeGreaterThan(1);
    await expect.poll(() => renderer.status().memory!.pagesRecycled, { timeout: 10_000 }).toBe(1);
    const entry = logger.entries.find((e) => e.msg === 'warm page recycled: renderer memory over bound');
    expect(entry?.obj).toMatchObject({ boundMiB: 400 });
    expect((entry?.obj as { rendererMiB: number }).rendererMiB).toBeGreaterThan(400);
    process.stderr.write(`memory-heavy page: renderer ${(entry?.obj as { rendererMiB: number }).rendererMiB} MiB after reset\n`);
    // the next render of the account gets a fresh page (made in the background), and stays under the bound
    expect((await renderer.render(renderRequest('simple'))).pageCount).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(renderer.status().memory!.pagesRecycled).toBe(1);
  });
});
