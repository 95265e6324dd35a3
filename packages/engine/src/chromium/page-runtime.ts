/** Origin the deploy version's files are served from; the entry is opened here. */
export const APP_ORIGIN = 'https://app.press.internal';
/** Origin of the render-time data (payload, env and secrets). */
export const DATA_ORIGIN = 'https://p.press.internal';
/** Non-enumerable, read-only global through which the renderer asks the page whether it is ready. */
export const INTERNAL_KEY = '__pressCloudInternal';

/** What the page reports when asked what it is still waiting for (render_timeout messages). */
export interface PageWaitState {
  /** `load` has fired */
  loaded: boolean;
  /** `<html data-press-wait="manual">` */
  manual: boolean;
  /** manual mode: pressCloud.ready() was called or data-press-ready="true" */
  signalled: boolean;
  /** pressCloud.* calls not settled */
  pressCloudCalls: number;
  /** fetch() / XMLHttpRequest calls (and response bodies being read) not settled */
  requests: number;
  /** document.fonts.status */
  fonts: string;
  /** images not loaded yet (their URLs, at most 3) */
  images: string[];
}

/**
 * Injected with `addInitScript`, so it runs in every document before any of the page's scripts. Plain JS in a
 * string (not a serialised TS function): transpilers add helpers such as `__name` that don't exist in the page.
 *
 * - `pressCloud.env.get(name)` / `.all()`, `pressCloud.secrets.get(name)` / `.all()`: async; environment.json is
 *   fetched once per document. A missing name gives `undefined`.
 * - `pressCloud.payload()`: the job payload — parsed when its Content-Type is JSON, else an ArrayBuffer.
 * - `pressCloud.ready()`: for `<html data-press-wait="manual">` documents (as is `data-press-ready="true"`).
 *
 * Readiness (spec §9.1), the page's half: the page knows what Chromium's network events can't show, namely that
 * a response is still being read (`r.json()`) or that a fetch is about to be made in its continuation. So it
 * counts its own fetch()/XHR calls, response-body reads and pressCloud calls, from the call until they settle,
 * and every start. `settle()` resolves once the page's conditions hold and have held, with no new start, across
 * a task turn and two animation frames; the renderer's half (chromium-renderer.ts) checks that Chromium saw no
 * request start or end in that window either.
 */
export const PAGE_RUNTIME_SCRIPT = `(() => {
  if (location.origin !== ${JSON.stringify(APP_ORIGIN)}) return;
  const DATA = ${JSON.stringify(DATA_ORIGIN)};
  const KEY = ${JSON.stringify(INTERNAL_KEY)};
  if (Object.prototype.hasOwnProperty.call(window, KEY)) return;
  // The page may replace any of these; readiness keeps the originals.
  const realFetch = window.fetch;
  const setT = window.setTimeout.bind(window);
  const raf = window.requestAnimationFrame.bind(window);
  const Channel = window.MessageChannel;
  const fonts = document.fonts;
  const own = Object.prototype.hasOwnProperty;
  let calls = 0;
  let requests = 0;
  let starts = 0;
  let loaded = false;
  let readyCalled = false;
  const listeners = new Set();
  const notify = () => { for (const l of Array.from(listeners)) l(); };
  window.addEventListener('load', () => { loaded = true; notify(); }, { once: true });
  // Counts a request-like promise from now until it settles.
  const pending = (promise, kind) => {
    starts++;
    if (kind === 'call') calls++; else requests++;
    const done = () => { if (kind === 'call') calls--; else requests--; notify(); };
    promise.then(done, done);
    return promise;
  };
  window.fetch = function fetch(input, init) { return pending(realFetch.call(this, input, init), 'request'); };
  // A response whose body is still being read is still in flight: its data is not in the page yet.
  for (const name of ['json', 'text', 'arrayBuffer', 'blob', 'formData', 'bytes']) {
    const real = Response.prototype[name];
    if (typeof real !== 'function') continue;
    Object.defineProperty(Response.prototype, name, {
      value: { [name](...args) { return pending(real.apply(this, args), 'request'); } }[name],
      writable: true, configurable: true,
    });
  }
  const realSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function send(body) {
    let open = true;
    starts++;
    requests++;
    const end = () => { if (open) { open = false; requests--; notify(); } };
    this.addEventListener('loadend', end);
    try {
      realSend.call(this, body);
    } catch (err) {
      end();
      throw err;
    }
    if (this.readyState === 4) end(); // synchronous XHR
  };
  const get = (url) => realFetch.call(window, DATA + url, { credentials: 'omit', cache: 'no-store' }).then((r) => {
    if (!r.ok) throw new Error('pressCloud: ' + url + ' answered ' + r.status);
    return r;
  });
  let environment = null;
  const loadEnvironment = () => (environment = environment || get('/environment.json').then((r) => r.json()));
  const section = (name) => Object.freeze({
    get: (key) => pending(loadEnvironment().then((e) => (own.call(e[name], key) ? e[name][key] : undefined)), 'call'),
    all: () => pending(loadEnvironment().then((e) => Object.assign({}, e[name])), 'call'),
  });
  const isJson = (type) => /^application\\/([\\w.+-]+\\+)?json\\b|^text\\/json\\b/i.test(type || '');
  const api = Object.freeze({
    env: section('env'),
    secrets: section('secrets'),
    payload: () => pending(get('/__payload').then((r) => (isJson(r.headers.get('content-type')) ? r.json() : r.arrayBuffer())), 'call'),
    ready: () => { readyCalled = true; notify(); },
  });
  Object.defineProperty(window, 'pressCloud', { value: api, enumerable: true, configurable: false, writable: false });

  const html = () => document.documentElement;
  const manual = () => !!html() && html().getAttribute('data-press-wait') === 'manual';
  const signalled = () => readyCalled || (!!html() && html().getAttribute('data-press-ready') === 'true');
  // Lazy images outside the viewport never load before printing; don't wait for them.
  const loadingImages = () => Array.prototype.filter.call(document.images, (img) => !img.complete && img.loading !== 'lazy');
  const state = () => ({
    loaded, manual: manual(), signalled: signalled(), pressCloudCalls: calls, requests,
    fonts: fonts.status, images: loadingImages().slice(0, 3).map((img) => String(img.currentSrc || img.src).slice(0, 200)),
  });
  const holds = () => loaded && (!manual() || signalled()) && calls === 0 && requests === 0 &&
    fonts.status === 'loaded' && loadingImages().length === 0;

  // Resolves once holds() is true; looks again whenever something it depends on may have changed.
  const conditions = () => new Promise((resolve) => {
    let observer = null;
    let poll = null;
    const stop = () => {
      listeners.delete(check);
      document.removeEventListener('load', check, true);
      document.removeEventListener('error', check, true);
      fonts.removeEventListener('loadingdone', check);
      fonts.removeEventListener('loadingerror', check);
      if (observer) observer.disconnect();
      clearInterval(poll);
    };
    function check() {
      if (!holds()) {
        if (!observer && html()) {
          observer = new MutationObserver(check);
          observer.observe(html(), { attributes: true, attributeFilter: ['data-press-wait', 'data-press-ready'] });
        }
        return;
      }
      stop();
      resolve();
    }
    listeners.add(check);
    // load/error of images (and other resources) don't bubble; capture them.
    document.addEventListener('load', check, true);
    document.addEventListener('error', check, true);
    fonts.addEventListener('loadingdone', check);
    fonts.addEventListener('loadingerror', check);
    // Images inserted without a listener of ours in reach (e.g. before the document element) are caught here.
    poll = setInterval(check, 50);
    check();
  });
  const task = () => new Promise((resolve) => {
    const c = new Channel();
    c.port1.onmessage = () => { c.port1.close(); resolve(); };
    c.port2.postMessage(null);
  });
  // One animation frame; a page that is not being rendered gets no frames, so a timer stands in after 100 ms.
  const frame = () => new Promise((resolve) => { raf(() => resolve()); setT(resolve, 100); });
  // The conditions, then held across a task turn and two animation frames with no request started meanwhile.
  // Two frames, always (§9.1): work the first frame's rendering update queues as tasks (IntersectionObserver
  // callbacks, lazy images) is not ordered against our task turn; skipping the second frame when no
  // animation-frame callback was waiting printed 5 of 50 IntersectionObserver pages early (after-intersection.html).
  const settle = async () => {
    for (;;) {
      await conditions();
      const before = starts;
      await task();
      await frame();
      await frame();
      await task();
      if (starts === before && holds()) return true;
    }
  };
  Object.defineProperty(window, KEY, {
    value: Object.freeze({ conditions, settle, state }),
    enumerable: false, configurable: false, writable: false,
  });
})();`;
