/**
 * @press-cloud/engine: the render engine the server and the `press` CLI's local renders share — Chromium
 * (playwright-core and the @sparticuz/chromium headless shell), the page runtime that serves payload, env and
 * secrets at https://p.press.internal, the network guard, and the canonical JSON of payloads.
 */
export { ChromiumRenderer } from '../../../src/adapters/chromium/chromium-renderer.js';
export type { ChromiumRendererOptions } from '../../../src/adapters/chromium/chromium-renderer.js';
export { createOutbound } from '../../../src/adapters/outbound/outbound.js';
export { RenderError } from '../../../src/ports/renderer.js';
export type { PdfOptions, Renderer, RenderErrorCode, RenderFiles, RenderRequest, RenderResult, RenderTimings } from '../../../src/ports/renderer.js';
export type { FileEntry } from '../../../src/model/records.js';
export { canonicalJson } from '../../../src/domain/canonical-json.js';
