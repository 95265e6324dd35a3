import { describe, expect, it } from 'vitest';
import { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS } from '../../packages/engine/src/renderer.js';
import type { RenderFiles } from '../../packages/engine/src/renderer.js';
import {
  fixtureFiles,
  jsonPayload,
  memoryLogger,
  pdfText,
  renderError,
  renderRequest,
  useRenderer,
} from './support.js';

/* Spec §9.1: every page problem is visible — in the result (or the error) of the render, bounded in size. */

const logger = memoryLogger();
const renderer = useRenderer({ capacity: 2, logger });

const tricky = (entry: string, over: Parameters<typeof renderRequest>[1] = {}) =>
  renderRequest('tricky', { entry, payload: jsonPayload({ n: 7 }), ...over });

describe('render diagnostics', () => {
  it('reports page errors with source and line, console errors and warnings, blocked and failed requests', async () => {
    const result = await renderer().render(tricky('errors.html', { secrets: { API_TOKEN: 'sk_live_0123456789' } }));
    expect(await pdfText(result.pdf)).toContain('rendered n=7');
    const d = result.diagnostics;
    expect(d.pageErrors).toEqual(
      expect.arrayContaining([
        { message: 'RangeError: rejected and nobody caught it', source: 'https://app.press.internal/errors.html', line: 15 },
        {
          message: 'ReferenceError: undefinedFunction is not defined',
          source: 'https://app.press.internal/errors.html',
          line: 17,
        },
      ]),
    );
    expect(d.console).toContainEqual({
      level: 'error',
      text: 'could not format row 7; token [redacted]',
      source: 'https://app.press.internal/errors.html',
      line: 10,
    });
    expect(d.console).toContainEqual(expect.objectContaining({ level: 'warning', text: 'falling back to the default currency' }));
    expect(JSON.stringify(d.console)).not.toContain('ordinary log line');
    expect(d.failedRequests).toContainEqual({ url: 'https://app.press.internal/data/missing.json', status: 404, error: null });
    // without query (tokens), and why
    expect(d.blockedRequests).toEqual([{ url: 'https://example.com/tracking.gif', reason: 'external_network_not_allowed' }]);
    expect(d.omitted).toBe(0);
    expect(JSON.stringify(d)).not.toContain('sk_live_0123456789');
  });

  it('keeps at most the caps of a page that floods its console and throws again and again', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await renderer().render(tricky('flood.html'));
    expect(await pdfText(result.pdf)).toContain('survived the flood');
    const d = result.diagnostics;
    for (const list of [d.pageErrors, d.console, d.blockedRequests, d.failedRequests]) {
      expect(list.length).toBeLessThanOrEqual(DIAGNOSTICS_MAX_ITEMS);
    }
    expect(Buffer.byteLength(JSON.stringify(d))).toBeLessThanOrEqual(DIAGNOSTICS_MAX_BYTES + 200);
    expect(d.omitted).toBeGreaterThan(300);
    expect(d.console[0].text.length).toBeLessThanOrEqual(501);
    // 1.4 MB went through the console (under the renderer's output bound); what the render keeps is a few KiB
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
  });

  it('times out a manual page that throws before pressCloud.ready(), saying so and showing the error', async () => {
    const err = await renderError(renderer().render(tricky('manual-throws.html', { timeoutMs: 3000 })));
    expect(err.code).toBe('render_timeout');
    expect(err.message).toContain('render did not finish within 3000 ms while waiting for pressCloud.ready()');
    expect(err.message).toContain(
      "last page error: TypeError: Cannot read properties of undefined (reading 'name') (https://app.press.internal/manual-throws.html:9)",
    );
    expect(err.diagnostics?.pageErrors).toEqual([
      {
        message: "TypeError: Cannot read properties of undefined (reading 'name')",
        source: 'https://app.press.internal/manual-throws.html',
        line: 9,
      },
    ]);
  });

  it('names the request a timed-out page was still waiting for', async () => {
    const real = fixtureFiles('tricky');
    const files: RenderFiles = {
      get: (path) => real.get(path),
      open: async (file) => {
        if (file.path === 'slow.json') await new Promise((r) => setTimeout(r, 8000));
        return real.open(file);
      },
    };
    const err = await renderError(renderer().render(tricky('hanging.html', { files, timeoutMs: 3000 })));
    expect(err.code).toBe('render_timeout');
    expect(err.message).toContain('while waiting for a request to https://app.press.internal/slow.json');
  });

  it("says when a timed-out page's script never yields", async () => {
    const err = await renderError(renderer().render(renderRequest('busy-loop', { timeoutMs: 1500 })));
    expect(err.code).toBe('render_timeout');
    expect(err.message).toContain("while waiting for the page's script, which did not yield");
  });

  it('times out a page that never stops polling', async () => {
    const err = await renderError(renderer().render(tricky('polling.html', { timeoutMs: 1500 })));
    expect(err.code).toBe('render_timeout');
    expect(err.message).toMatch(/while waiting for /);
  });

  it('fails a page that navigates away with render_navigation_failed and a message that says so', async () => {
    const err = await renderError(renderer().render(tricky('navigate-away.html')));
    expect(err.code).toBe('render_navigation_failed');
    expect(err.message).toBe('the page navigated away from the deploy version (to about:blank) before it was ready');
    expect(err.retryable).toBe(false);
  });

  it('fails a page that navigates to another origin, naming where it wanted to go', async () => {
    const err = await renderError(renderer().render(tricky('navigate-external.html')));
    expect(err.code).toBe('render_navigation_failed');
    expect(err.message).toBe(
      'the page navigated away from the deploy version (to https://example.com/elsewhere, refused) before it was ready',
    );
    expect(err.diagnostics?.blockedRequests).toEqual([
      { url: 'https://example.com/elsewhere', reason: 'navigation_not_allowed' },
    ]);
  });

  it('logs blocked requests through the renderer logger', () => {
    const blocked = logger.entries.filter((e) => e.msg === 'external request blocked');
    expect(blocked.map((e) => e.level)).toContain('info');
    expect(JSON.stringify(blocked)).toContain('https://example.com');
    expect(JSON.stringify(blocked)).not.toContain('tracking.gif');
  });
});
