import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build:dashboard` writes the dashboard (from src/http or its built twin dist/http alike). */
export const DASHBOARD_DIST = fileURLToPath(new URL('../../dashboard/dist/', import.meta.url));

/** The dashboard's own paths: only these fall back to index.html; everything else keeps the API's JSON 404. */
export const DASHBOARD_PAGES = ['/', '/sign-in', '/setup', '/accept-invitation', '/account', '/w/*'];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

// pdf.js draws in a worker from our origin and may compile its image decoders (wasm); nothing else runs.
const CSP = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:", "connect-src 'self'", "font-src 'self' data:", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join('; ');

/**
 * Serves the built dashboard (spec §10) from the API's own process: hashed files under /assets/ are immutable for a
 * year (a new build has new names), index.html is revalidated on every load so a deploy takes effect at once.
 * Precompressed `.gz` twins written by the build go to clients that accept gzip.
 */
export function registerDashboard(app: FastifyInstance, dir = DASHBOARD_DIST) {
  const notBuilt = (reply: FastifyReply) =>
    reply.code(503).header('retry-after', '5').send({ error: 'service_unavailable', message: 'The dashboard is not built: run `npm run build:dashboard` (npm start does it).' });

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const index = join(dir, 'index.html');
    if (!existsSync(index)) return notBuilt(reply);
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .type('text/html; charset=utf-8')
      .send(readFileSync(index));
  };
  for (const url of DASHBOARD_PAGES) app.get(url, { config: { public: true }, schema: { hide: true } }, page);

  app.get('/assets/:file', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const { file } = req.params as { file: string };
    // Vite writes a flat assets/ folder: a plain file name is all a request may name (no traversal possible)
    const ext = /^[\w.-]+(\.[a-z0-9]+)$/i.exec(file)?.[1];
    const path = join(dir, 'assets', file);
    if (!ext || file.includes('..') || !existsSync(path)) {
      return reply.code(404).send({ error: 'route_not_found', message: `No dashboard asset ${file}.` });
    }
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').header('vary', 'accept-encoding');
    reply.type(TYPES[ext.toLowerCase()] ?? 'application/octet-stream');
    const gz = `${path}.gz`;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && existsSync(gz)) {
      reply.header('content-encoding', 'gzip').header('content-length', statSync(gz).size);
      return reply.send(createReadStream(gz));
    }
    reply.header('content-length', statSync(path).size);
    return reply.send(createReadStream(path));
  });
}
