import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { RenderError } from '../../packages/engine/src/renderer.js';
import { jsonPayload, renderRequest } from './support.js';

/*
 * Issue 10 §3: a page's memory is bounded beyond the V8 heap. ArrayBuffers and canvases live outside it; the
 * renderer process holding them is killed at the bound (PageLimits.maxMemoryBytes, here 384 MiB) and the render
 * fails with render_resource_limit, not retried, while a neighbour's invoice rendering at the same time succeeds.
 */
const BOUND_MIB = 384;
let renderer: ChromiumRenderer;

beforeAll(async () => {
  renderer = new ChromiumRenderer({ capacity: 2, limits: { maxMemoryBytes: BOUND_MIB * 1024 * 1024 } });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
});

const hog = (kind: string) => renderRequest('hostile', { accountId: 'acct_hog', payload: jsonPayload({ kind }), timeoutMs: 30_000 });

async function neighbour(): Promise<number> {
  const t0 = performance.now();
  const result = await renderer.render(renderRequest('simple', { accountId: 'acct_neighbour' }));
  expect(result.pageCount).toBe(1);
  return performance.now() - t0;
}

describe('memory outside the JavaScript heap', () => {
  it.each(['array-buffer-hog', 'canvas-hog'])(
    "%s: killed at the bound with render_resource_limit; a neighbour's invoice at the same time succeeds",
    async (kind) => {
      const t0 = performance.now();
      const bomb = renderer.render(hog(kind)).then(
        () => null,
        (err: unknown) => err,
      );
      // The neighbour renders while the hog grows (it reaches the bound within about a second).
      await new Promise((r) => setTimeout(r, 300));
      const latency = await neighbour();
      const err = await bomb;
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(RenderError);
      expect((err as RenderError).code).toBe('render_resource_limit');
      expect((err as RenderError).retryable).toBe(false);
      expect((err as RenderError).message).toMatch(new RegExp(`more than ${BOUND_MIB} MiB of memory`));
      if (process.env.PRESS_TEST_VERBOSE) console.log(kind, { failedAfterMs: Math.round(ms), neighbourMs: Math.round(latency) });
      expect(ms).toBeLessThan(20_000);
      expect(latency).toBeLessThan(10_000);
      // The renderer goes on serving the same account.
      expect((await renderer.render(renderRequest('simple', { accountId: 'acct_hog' }))).pageCount).toBe(1);
    },
  );
});
