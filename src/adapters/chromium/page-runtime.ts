/** Origin the deploy version's files are served from; the entry is opened here. */
export const APP_ORIGIN = 'https://app.press.internal';
/** Origin of the render-time data (payload, env and secrets). */
export const DATA_ORIGIN = 'https://p.press.internal';
/** Non-enumerable, read-only global through which the renderer asks the page whether it is ready. */
export const INTERNAL_KEY = '__pressCloudInternal';

/** What the in-page readiness wait reports back. */
export type ReadyMode = 'auto' | 'manual';

/**
 * Injected with `addInitScript`, so it runs in every document before any of the page's scripts. Plain JS in a
 * string (not a serialised TS function): transpilers add helpers such as `__name` that don't exist in the page.
 *
 * - `pressCloud.env.get(name)` / `.all()`, `pressCloud.secrets.get(name)` / `.all()`: async; environment.json is
 *   fetched once per document. A missing name gives `undefined`.
 * - `pressCloud.payload()`: the job payload — parsed when its Content-Type is JSON, else an ArrayBuffer.
 * - `pressCloud.ready()`: for `<html data-press-wait="manual">` documents (as is `data-press-ready="true"`).
 *
 * Readiness bookkeeping: each pressCloud call counts as in flight until a macrotask after it settles, so the
 * code awaiting it (e.g. rendering the payload into the DOM) has run before the renderer looks again.
 */
export const PAGE_RUNTIME_SCRIPT = `(() => {
  if (location.origin !== ${JSON.stringify(APP_ORIGIN)}) return;
  const DATA = ${JSON.stringify(DATA_ORIGIN)};
  const KEY = ${JSON.stringify(INTERNAL_KEY)};
  if (Object.prototype.hasOwnProperty.call(window, KEY)) return;
  const realFetch = window.fetch.bind(window);
  const setT = window.setTimeout.bind(window);
  const own = Object.prototype.hasOwnProperty;
  let inflight = 0;
  let readyCalled = false;
  const listeners = new Set();
  const notify = () => { for (const l of Array.from(listeners)) l(); };
  const track = (promise) => {
    inflight++;
    const done = () => setT(() => { inflight--; notify(); }, 0);
    promise.then(done, done);
    return promise;
  };
  const get = (url) => realFetch(DATA + url, { credentials: 'omit', cache: 'no-store' }).then((r) => {
    if (!r.ok) throw new Error('pressCloud: ' + url + ' answered ' + r.status);
    return r;
  });
  let environment = null;
  const loadEnvironment = () => (environment = environment || get('/environment.json').then((r) => r.json()));
  const section = (name) => Object.freeze({
    get: (key) => track(loadEnvironment().then((e) => (own.call(e[name], key) ? e[name][key] : undefined))),
    all: () => track(loadEnvironment().then((e) => Object.assign({}, e[name]))),
  });
  const isJson = (type) => /^application\\/([\\w.+-]+\\+)?json\\b|^text\\/json\\b/i.test(type || '');
  const api = Object.freeze({
    env: section('env'),
    secrets: section('secrets'),
    payload: () => track(get('/__payload').then((r) => (isJson(r.headers.get('content-type')) ? r.json() : r.arrayBuffer()))),
    ready: () => { readyCalled = true; notify(); },
  });
  Object.defineProperty(window, 'pressCloud', { value: api, enumerable: true, configurable: false, writable: false });

  const html = () => document.documentElement;
  const manual = () => !!html() && html().getAttribute('data-press-wait') === 'manual';
  const manualReady = () => readyCalled || (!!html() && html().getAttribute('data-press-ready') === 'true');
  // Lazy images outside the viewport never load before printing; don't wait for them.
  const imagesDone = () => Array.prototype.every.call(document.images, (img) => img.complete || img.loading === 'lazy');
  const state = () => {
    if (document.readyState === 'loading') return null;
    if (manual()) return manualReady() ? 'manual' : null;
    if (document.readyState !== 'complete' || inflight > 0 || !imagesDone()) return null;
    return 'auto';
  };
  // Resolves once the document is ready to print (spec §6): after load with no pressCloud call in flight and
  // every image settled, or — with data-press-wait="manual" — after pressCloud.ready() / data-press-ready.
  // Then fonts.ready, and a second look two tasks later: callbacks queued by the last response (which may
  // start more requests or change the DOM) run first.
  const waitReady = () => new Promise((resolve) => {
    let observer = null;
    let settling = false;
    const stop = () => {
      listeners.delete(check);
      document.removeEventListener('readystatechange', check);
      document.removeEventListener('load', check, true);
      document.removeEventListener('error', check, true);
      if (observer) observer.disconnect();
    };
    function check() {
      if (settling) return;
      const mode = state();
      if (!mode) {
        if (!observer && html()) {
          observer = new MutationObserver(check);
          observer.observe(html(), { attributes: true, attributeFilter: ['data-press-wait', 'data-press-ready'] });
        }
        return;
      }
      settling = true;
      new Promise((r) => setT(() => setT(r, 0), 0))
        .then(() => document.fonts.ready)
        .then(() => {
          settling = false;
          if (state() === mode) {
            stop();
            resolve(mode);
          }
        });
    }
    listeners.add(check);
    document.addEventListener('readystatechange', check);
    // load/error of images (and other resources) don't bubble; capture them.
    document.addEventListener('load', check, true);
    document.addEventListener('error', check, true);
    check();
  });
  Object.defineProperty(window, KEY, {
    value: Object.freeze({ waitReady }),
    enumerable: false, configurable: false, writable: false,
  });
})();`;
