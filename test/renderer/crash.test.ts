import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../src/adapters/chromium/chromium-renderer.js';
import { RenderError } from '../../src/ports/renderer.js';
import { renderRequest } from './support.js';

let renderer: ChromiumRenderer;

beforeAll(async () => {
  renderer = new ChromiumRenderer({ capacity: 2, recycleAfterRenders: 4 });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
});

async function renderError(promise: Promise<unknown>): Promise<RenderError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RenderError);
    return err as RenderError;
  }
  throw new Error('the render succeeded');
}

/** Resolves once the renderer reports a render in progress (its page is loaded and waiting). */
async function whileRendering(): Promise<void> {
  while (renderer.status().active === 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
}

describe('crashes and recycling', () => {
  it('fails an in-flight render retryably when the browser crashes, then renders on a fresh browser', async () => {
    const restartsBefore = renderer.status().restarts;
    const pending = renderError(renderer.render(renderRequest('never-ready', { timeoutMs: 15_000 })));
    await whileRendering();
    const started = Date.now();
    await renderer.crashForTest('browser');
    const err = await pending;
    expect(err.code).toBe('render_internal_error');
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);

    const result = await renderer.render(renderRequest('simple'));
    expect(result.pageCount).toBe(1);
    const status = renderer.status();
    expect(status.ready).toBe(true);
    expect(status.restarts).toBe(restartsBefore + 1);
  });

  it('fails with a retryable render_page_crashed when the page crashes, and the account keeps rendering', async () => {
    const pending = renderError(renderer.render(renderRequest('never-ready', { timeoutMs: 15_000 })));
    await whileRendering();
    await renderer.crashForTest('pages');
    const err = await pending;
    expect(err.code).toBe('render_page_crashed');
    expect(err.retryable).toBe(true);
    expect((await renderer.render(renderRequest('simple'))).pageCount).toBe(1);
  });

  it('recycles the browser after the configured number of renders without failing renders', async () => {
    const before = renderer.status().restarts;
    for (let i = 0; i < 10; i++) {
      const result = await renderer.render(renderRequest('simple', { accountId: `acct_${i % 3}` }));
      expect(result.pageCount).toBe(1);
    }
    expect(renderer.status().restarts).toBeGreaterThanOrEqual(before + 2);
    expect(renderer.status().ready).toBe(true);
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
