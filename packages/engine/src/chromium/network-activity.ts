import type { CDPSession } from 'playwright-core';

interface RequestWillBeSent {
  requestId: string;
  request: { url: string };
  type?: string;
  documentURL: string;
}
interface RequestDone {
  requestId: string;
}

const enabled = new WeakSet<CDPSession>();

/**
 * Requests of a page's documents as Chromium itself sees them (CDP Network domain), for readiness (spec §9.1):
 * every kind — fetch, XHR, script, style, image, font, module import, iframe — from the moment the page issues it
 * until its body is in or it failed. Chromium's renderer emits `requestWillBeSent` on the same channel as the
 * answer to our `Runtime.evaluate`, before it: a request the page starts before it answers is always counted by
 * the time the answer is read. `changes` moves on every start and end, so "nothing happened in this window" is
 * one comparison.
 */
export class NetworkActivity {
  /** requestId → URL, of requests not finished */
  private readonly inflight = new Map<string, string>();
  /** requests made by fetch() or XMLHttpRequest */
  private readonly scripted = new Set<string>();
  private waiters: Array<() => void> = [];
  /** requests started or ended so far */
  changes = 0;
  private readonly off: Array<() => void> = [];

  private constructor(cdp: CDPSession) {
    const on = <T>(event: string, handler: (e: T) => void) => {
      const listener = handler as (e: unknown) => void;
      // CDPSession's typed overloads don't cover a string variable; the events are the protocol's.
      (cdp as unknown as { on(e: string, l: (e: unknown) => void): void }).on(event, listener);
      this.off.push(() => (cdp as unknown as { off(e: string, l: (e: unknown) => void): void }).off(event, listener));
    };
    on<RequestWillBeSent>('Network.requestWillBeSent', (e) => {
      // A worker's own script (its "document" is the script): it ends in the worker, whose events this session
      // doesn't get. The worker's requests are counted while RenderSession answers them.
      if (e.type !== 'Document' && e.documentURL === e.request.url) return;
      // A redirect comes again with the same id: still the same request in flight.
      this.inflight.set(e.requestId, e.request.url);
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
  }

  /** Start watching the page behind `cdp` (the Network domain is enabled once per session and left on). */
  static async watch(cdp: CDPSession): Promise<NetworkActivity> {
    const activity = new NetworkActivity(cdp);
    if (!enabled.has(cdp)) {
      // No body buffering: we only count requests, we never read their bodies over CDP.
      await cdp.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0, maxPostDataSize: 0 });
      enabled.add(cdp);
    }
    return activity;
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
    return { urls: [...this.inflight.values()].slice(0, max), count: this.inflight.size };
  }

  stop(): void {
    for (const off of this.off.splice(0)) off();
    this.wake();
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
