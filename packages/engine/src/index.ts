/**
 * @press-cloud/engine: the render engine the server and the `press` CLI's local renders share — Chromium
 * (playwright-core and the @sparticuz/chromium headless shell), the page runtime that serves payload, env and
 * secrets at https://p.press.internal, the network guard and outbound-request module, and the canonical JSON of
 * payloads. `@press-cloud/engine/logger` and `@press-cloud/engine/canonical-json` load nothing else.
 */
export { ChromiumRenderer } from './chromium/chromium-renderer.js';
export type { ChromiumRendererOptions } from './chromium/chromium-renderer.js';
export { chromiumSandbox } from './chromium/find-chromium.js';
export * from './renderer.js';
export * from './outbound/port.js';
export { createOutbound } from './outbound/outbound.js';
export { canonicalJson } from './canonical-json.js';
