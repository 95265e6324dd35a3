import { EventEmitter } from 'node:events';
import type { PageSession } from '../../packages/engine/src/chromium/page-session.js';
import { describe, expect, it } from 'vitest';
import { NetworkActivity } from '../../packages/engine/src/chromium/network-activity.js';

/**
 * Chromium's CDP events, as recorded from real renders, replayed into NetworkActivity. The session stands in for
 * Playwright's PageSession (events in, no answers needed); the sequences are Chromium's, not invented.
 */
function session(): { cdp: PageSession; emit(event: string, params: unknown): void } {
  const emitter = new EventEmitter();
  const cdp = Object.assign(emitter, { send: async () => ({}) }) as unknown as PageSession;
  return { cdp, emit: (event, params) => emitter.emit(event, params) };
}

const MAIN = 'A20A5AA754EC3EFEC415246DC65A6F1D';
const INDEX = 'C8632E2749A166D665D3805C3027ABC7';
const FINAL = '911A5BC45D34408750E3282520BC6BE8';

function documentRequest(id: string, url: string, frameId = MAIN) {
  return { requestId: id, loaderId: id, frameId, type: 'Document', documentURL: url, request: { url } };
}

describe('NetworkActivity', () => {
  it('forgets a document replaced while it loaded, which Chromium never finishes (location.replace in index.html)', async () => {
    // Recorded on chrome-headless-shell 153 when test/fixtures/apps/redirect timed out "waiting for a request to
    // https://app.press.internal/index.html" (≈ 1 in 1 000 renders under load): no loadingFinished/-Failed for it.
    const { cdp, emit } = session();
    const network = NetworkActivity.watch(cdp);
    const index = 'https://app.press.internal/index.html';
    const final = 'https://app.press.internal/final.html?from=index';
    emit('Network.requestWillBeSent', documentRequest(INDEX, index));
    emit('Network.responseReceived', { requestId: INDEX });
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: INDEX, url: index } });
    expect(network.pending(3)).toEqual({ urls: [index], count: 1 });
    emit('Network.requestWillBeSent', documentRequest(FINAL, final));
    emit('Network.responseReceived', { requestId: FINAL });
    expect(network.idle).toBe(false);
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: FINAL, url: final } });
    // final.html's own request is still loading: only the replaced document's request is gone.
    expect(network.pending(3)).toEqual({ urls: [final], count: 1 });
    const idle = network.whenIdle();
    emit('Network.loadingFinished', { requestId: FINAL });
    await idle;
    expect(network.idle).toBe(true);
  });

  it("keeps the committed document's requests, other frames' requests and workers' requests at a commit", async () => {
    const { cdp, emit } = session();
    const network = NetworkActivity.watch(cdp);
    emit('Network.requestWillBeSent', documentRequest(INDEX, 'https://app.press.internal/index.html'));
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: INDEX } });
    emit('Network.loadingFinished', { requestId: INDEX });
    const style = { requestId: 'r.style', loaderId: INDEX, frameId: MAIN, type: 'Stylesheet', documentURL: 'x', request: { url: 'https://app.press.internal/a.css' } };
    const child = { requestId: 'r.child', loaderId: 'L.child', frameId: 'F.child', type: 'Image', documentURL: 'y', request: { url: 'https://app.press.internal/b.png' } };
    const worker = { requestId: 'r.worker', loaderId: '', type: 'Fetch', documentURL: 'w', request: { url: 'https://app.press.internal/c.json' } };
    for (const r of [style, child, worker]) emit('Network.requestWillBeSent', r);
    // An iframe commits a document of its own: nothing of the main frame's or the worker's goes.
    emit('Page.frameNavigated', { frame: { id: 'F.other', parentId: MAIN, loaderId: 'L.other' } });
    expect(network.pending(5).count).toBe(3);
    // The child frame is removed: its requests can no longer matter.
    emit('Page.frameDetached', { frameId: 'F.child' });
    expect(network.pending(5).urls).toEqual(['https://app.press.internal/a.css', 'https://app.press.internal/c.json']);
    // The main frame commits a new document: the old document's stylesheet goes, the worker's fetch stays.
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: FINAL } });
    expect(network.pending(5).urls).toEqual(['https://app.press.internal/c.json']);
    const changes = network.changes;
    emit('Network.loadingFinished', { requestId: 'r.worker' });
    expect(network.idle).toBe(true);
    expect(network.changes).toBe(changes + 1);
    network.stop();
  });

  it("keeps a navigation that has not committed yet, and a frame swapped to another process", async () => {
    const { cdp, emit } = session();
    const network = NetworkActivity.watch(cdp);
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: INDEX } });
    // The page starts navigating to next.html; before that commits, another document commits in the frame.
    emit('Network.requestWillBeSent', documentRequest('L.next', 'https://app.press.internal/next.html'));
    emit('Page.frameNavigated', { frame: { id: MAIN, loaderId: 'L.other' } });
    expect(network.pending(3).urls).toEqual(['https://app.press.internal/next.html']);
    emit('Network.requestWillBeSent', documentRequest('L.frame', 'https://elsewhere.example/', 'F.oopif'));
    emit('Page.frameDetached', { frameId: 'F.oopif', reason: 'swap' });
    expect(network.pending(3).count).toBe(2);
    network.stop();
  });
});
