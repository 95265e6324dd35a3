import { EventEmitter } from 'node:events';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/**
 * A CDP session on one page: commands in, the page's events out (by CDP method name). The render's per-document
 * calls (navigation, readiness, printing, the reset) and the events readiness counts go through it.
 */
export interface PageSession {
  /** 'server': made on Playwright's in-process server (the fast path); 'public': Playwright's public CDPSession */
  readonly path: 'server' | 'public';
  send<T = unknown>(method: string, params?: object): Promise<T>;
  on<T>(event: string, listener: (params: T) => void): unknown;
  off<T>(event: string, listener: (params: T) => void): unknown;
}

/** The part of Playwright's in-process server objects a session is made from (playwright-core ≥ 1.5x). */
interface ServerCdpSession {
  _send(method: string, params?: object): Promise<unknown>;
  on(event: 'event', listener: (e: { method: string; params: unknown }) => void): unknown;
}
interface ServerContext {
  newCDPSession(page: unknown): Promise<ServerCdpSession>;
}
interface ServerBrowser {
  newBrowserCDPSession(): Promise<ServerCdpSession>;
}
type ToImpl = (clientObject: unknown) => unknown;

/** Playwright's in-process server object behind a client object (`Browser`, `BrowserContext`, `Page`), if any. */
function serverObject<T>(clientObject: Browser | BrowserContext | Page): Partial<T> | undefined {
  const toImpl = (clientObject as unknown as { _connection?: { toImpl?: ToImpl } })._connection?.toImpl;
  return toImpl?.(clientObject) as Partial<T> | undefined;
}

const usable = (session: ServerCdpSession | null): session is ServerCdpSession =>
  typeof session?._send === 'function' && typeof session.on === 'function';

/**
 * A session on `page`, made on Playwright's in-process server side: a command costs one CDP round trip on
 * Playwright's connection to the browser (≈ 0.16 ms of this process's CPU), where the same command through the
 * public `CDPSession` passes Playwright's client/server protocol both ways (a library stack trace, validators, an
 * abort signal per call: ≈ 0.6 ms), and so does every event the session receives (docs/performance.md, "The
 * per-document calls over a server-side CDP session"). Playwright runs its server in this process when it launches
 * the browser, which is how the pool runs it; where it does not (`toImpl` absent), the public `CDPSession` serves.
 */
export async function openPageSession(context: BrowserContext, page: Page): Promise<PageSession> {
  const serverContext = serverObject<ServerContext>(context);
  const serverPage = serverObject<unknown>(page);
  // These are Playwright's internals (pinned by the lockfile; @press-cloud/engine accepts newer 1.x): anything not
  // the shape we use falls back to the public session, slower but correct. test/renderer/page-session.test.ts
  // fails if the fast path is lost, so an upgrade that changes them is noticed.
  const session = typeof serverContext?.newCDPSession === 'function' && serverPage ? await serverContext.newCDPSession(serverPage) : null;
  if (!usable(session)) {
    const pub = await context.newCDPSession(page);
    return Object.assign(pub as unknown as Omit<PageSession, 'path'>, { path: 'public' as const });
  }
  const events = new EventEmitter();
  // A page can have many concurrent waiters (navigation, readiness, the one-shot clear): no leak warning.
  events.setMaxListeners(0);
  session.on('event', ({ method, params }) => events.emit(method, params));
  return {
    path: 'server',
    send: <T>(method: string, params?: object) => session._send(method, params) as Promise<T>,
    on: (event, listener) => events.on(event, listener as (params: unknown) => void),
    off: (event, listener) => events.off(event, listener as (params: unknown) => void),
  };
}

/** A CDP session on the browser target: commands only (the pool lists the browser's processes over it). */
export interface BrowserSession {
  readonly path: PageSession['path'];
  send<T = unknown>(method: string, params?: object): Promise<T>;
}

/**
 * A browser-target session made on Playwright's in-process server, as openPageSession does for a page: the memory
 * watch asks it for the process list every 200 ms while pages are leased, and each ask over the public
 * `CDPSession` cost the render process ≈ 0.6 ms of Playwright's client/server protocol. Public session as fallback.
 */
export async function openBrowserSession(browser: Browser): Promise<BrowserSession> {
  const serverBrowser = serverObject<ServerBrowser>(browser);
  const session = typeof serverBrowser?.newBrowserCDPSession === 'function' ? await serverBrowser.newBrowserCDPSession() : null;
  if (!usable(session)) {
    const pub = await browser.newBrowserCDPSession();
    return { path: 'public', send: <T>(method: string, params?: object) => pub.send(method as never, params as never) as Promise<T> };
  }
  return { path: 'server', send: <T>(method: string, params?: object) => session._send(method, params) as Promise<T> };
}

/** The part of Playwright's in-process dispatchers (its server's per-object protocol endpoints) releasing uses. */
interface ServerDispatcher {
  _type: string;
  _object: { _isDetached?: () => boolean };
  _dispatchers: Map<string, ServerDispatcher>;
  _dispose(reason?: string): void;
}
interface DispatcherConnection {
  existingDispatcher(object: unknown): ServerDispatcher | undefined;
}

/** What a finished render leaves under its page in Playwright: nothing of ours uses any of it after the render. */
const leftover = (d: ServerDispatcher) =>
  d._type === 'Request' || d._type === 'JSHandle' || d._type === 'ElementHandle' || (d._type === 'Frame' && d._object?._isDetached?.() === true);

/**
 * Drop what Playwright holds in this process for a finished render's objects on the page: how many it dropped, or
 * null where its in-process server is not reachable. Playwright reports to its client every navigation request (a
 * Request and a Response on each side of its protocol, ≈ 17 KiB of heap), every console message's arguments (a
 * JSHandle each, as we listen for console messages) and every frame (kept after it detaches), and keeps them until
 * the page closes or 10 000 of a kind (100 000 handles) exist in the process, when it drops the oldest tenth: a
 * warm page serving thousands of renders made the render process's heap grow ≈ 16 MiB per 1 000 one-page renders
 * (docs/performance.md, "The render process's growth per browser"). Dropping them is what Playwright's own
 * collection does ('gc'): the client forgets the objects, and events for a dropped request are not reported.
 * Call it between renders, once the render's documents are gone.
 */
export function releaseRenderObjects(context: BrowserContext, page: Page): number | null {
  const connection = (page as unknown as { _connection?: { toImpl?: ToImpl } })._connection;
  try {
    const dispatchers = connection?.toImpl?.(connection) as Partial<DispatcherConnection> | undefined;
    if (typeof dispatchers?.existingDispatcher !== 'function') return null;
    let released = 0;
    // They hang under the page's dispatcher (the context's when they have no page); a response under its request.
    for (const owner of [serverObject(page), serverObject(context)]) {
      const parent = owner && dispatchers.existingDispatcher(owner);
      if (!(parent?._dispatchers instanceof Map)) continue;
      for (const child of [...parent._dispatchers.values()]) {
        if (!leftover(child) || typeof child._dispose !== 'function') continue;
        child._dispose('gc');
        released++;
      }
    }
    return released;
  } catch {
    // the page or context went away under us (their server objects are gone), or the internals changed shape
    return null;
  }
}
