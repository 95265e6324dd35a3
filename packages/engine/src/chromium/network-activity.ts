import type { PageSession } from './page-session.js';

interface RequestWillBeSent {
  requestId: string;
  request: { url: string };
  type?: string;
  documentURL: string;
  /** the document (navigation) the request belongs to; empty for a worker's requests */
  loaderId: string;
  frameId?: string;
}
interface FrameNavigated {
  frame: { id: string; loaderId: string };
}
interface FrameDetached {
  frameId: string;
  reason?: 'remove' | 'swap';
}
interface RequestDone {
  requestId: string;
}

/**
 * Requests of a page's documents as Chromium itself sees them (CDP Network domain), for readiness (spec §9.1):
 * every kind — fetch, XHR, script, style, image, font, module import, iframe — from the moment the page issues it
 * until its body is in or it failed. Chromium's renderer emits `requestWillBeSent` on the same channel as the
 * answer to our `Runtime.evaluate`, before it: a request the page starts before it answers is always counted by
 * the time the answer is read. `changes` moves on every start and end, so "nothing happened in this window" is
 * one comparison.
 */
export class NetworkActivity {
  /** requestId → URL and owning document, of requests not finished */
  private readonly inflight = new Map<string, { url: string; frameId?: string; loaderId: string }>();
  /** requests made by fetch() or XMLHttpRequest */
  private readonly scripted = new Set<string>();
  /** frameId → loaderId of the document it shows, from the commits seen */
  private readonly committed = new Map<string, string>();
  private waiters: Array<() => void> = [];
  /** requests started or ended so far */
  changes = 0;
  private readonly off: Array<() => void> = [];

  private constructor(cdp: PageSession) {
    const on = <T>(event: string, handler: (e: T) => void) => {
      cdp.on(event, handler);
      this.off.push(() => cdp.off(event, handler));
    };
    on<RequestWillBeSent>('Network.requestWillBeSent', (e) => {
      // A worker's own script (its "document" is the script): it ends in the worker, whose events this session
      // doesn't get. The worker's requests are counted while RenderSession answers them.
      if (e.type !== 'Document' && e.documentURL === e.request.url) return;
      // A redirect comes again with the same id: still the same request in flight.
      this.inflight.set(e.requestId, { url: e.request.url, frameId: e.frameId, loaderId: e.loaderId });
      if (e.type === 'Fetch' || e.type === 'XHR') this.scripted.add(e.requestId);
      this.changes++;
    });
    // Chromium finishes a fetch() only once the page has read its body, which it may never do (`r.ok` is all
    // it wanted). Its page-side count (fetch calls, body reads, XHR until loadend) covers the rest.
    on<RequestDone>('Network.responseReceived', (e) => {
      if (this.scripted.has(e.requestId)) this.end(e.requestId);
    });
    on<RequestDone>('Network.loadingFinished', (e) => this.end(e.requestId));
    on<RequestDone>('Network.loadingFailed', (e) => this.end(e.requestId));
    // A document replaced while it still loads (a script's location.replace during parsing) can leave its own
    // request with neither loadingFinished nor loadingFailed (seen ≈ 1 in 1 000 redirects under load). Once a frame
    // commits its next document, the requests of the document it replaced can no longer matter; a navigation still
    // pending in the frame (not yet committed) does. Nor can a removed frame's (not one swapped to another process).
    on<FrameNavigated>('Page.frameNavigated', ({ frame }) => {
      const replaced = this.committed.get(frame.id);
      this.committed.set(frame.id, frame.loaderId);
      if (replaced !== undefined && replaced !== frame.loaderId) {
        this.drop((r) => r.frameId === frame.id && r.loaderId === replaced);
      }
    });
    on<FrameDetached>('Page.frameDetached', ({ frameId, reason }) => {
      if (reason === 'swap') return;
      this.committed.delete(frameId);
      this.drop((r) => r.frameId === frameId);
    });
  }

  /** Start watching the page behind `cdp`, whose Network and Page domains the pool enabled when it made the page. */
  static watch(cdp: PageSession): NetworkActivity {
    return new NetworkActivity(cdp);
  }

  get idle(): boolean {
    return this.inflight.size === 0;
  }

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** URLs of requests in flight (at most `max`), and how many there are in all. */
  pending(max: number): { urls: string[]; count: number } {
    return { urls: [...this.inflight.values()].slice(0, max).map((r) => r.url), count: this.inflight.size };
  }

  stop(): void {
    for (const off of this.off.splice(0)) off();
    this.wake();
  }

  private drop(gone: (request: { frameId?: string; loaderId: string }) => boolean): void {
    for (const [requestId, request] of this.inflight) if (gone(request)) this.end(requestId);
  }

  private end(requestId: string): void {
    this.scripted.delete(requestId);
    if (!this.inflight.delete(requestId)) return;
    this.changes++;
    if (this.idle) this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
