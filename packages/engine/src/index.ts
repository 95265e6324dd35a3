/**
 * @press-cloud/engine: the render engine the server and the `press` CLI's local renders share — Chromium
 * (playwright-core and the @sparticuz/chromium headless shell), the page runtime that serves payload, env and
 * secrets at https://p.press.internal, the network guard and outbound-request module, and the canonical JSON of
 * payloads. `@press-cloud/engine/logger` and `@press-cloud/engine/canonical-json` load nothing else.
 */
export { ChromiumRenderer } from './chromium/chromium-renderer.js';
export type { ChromiumRendererOptions } from './chromium/chromium-renderer.js';
export { decideSandbox, sandboxState } from './chromium/sandbox.js';
export type { SandboxMode, SandboxState } from './chromium/sandbox.js';
export * from './renderer.js';
export * from './outbound/port.js';
export { createOutbound } from './outbound/outbound.js';
export { canonicalJson } from './canonical-json.js';
