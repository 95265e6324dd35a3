import { Transform, type TransformCallback } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, Errors } from '../../domain/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** error code of the 413 answered when the body is over the route's limit (default `request_body_too_large`) */
    tooLargeCode?: string;
  }
}

export interface BodyLimits {
  /** a request body must arrive completely within this time (slow bodies hold a connection and memory) */
  timeoutMs: number;
  /** bytes of unfinished JSON bodies held at once, all requests together; streamed uploads are not held */
  memoryBytes: number;
}

/** After an error answered while the client is still sending, read on this long / this much, then close. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 4 * 1024 * 1024;

/**
 * Request bodies under bounds:
 * - time: a body not received completely within `timeoutMs` is answered 408 `request_timeout`;
 * - memory: JSON bodies are buffered until parsed, so the bytes of unfinished ones are counted against one budget;
 *   a body that would go over it is answered 503 `service_unavailable` (Retry-After) instead of being buffered;
 * - an answer sent before the body was read (401, 413, a timeout…) leaves the connection reading on for a short,
 *   bounded while, so the client reads the answer instead of a reset, and then closes it: it is never kept alive
 *   for a body nobody will read.
 */
export const bodiesPlugin = fp(async (app: FastifyInstance, opts: BodyLimits) => {
  let held = 0;
  const guards = new WeakMap<FastifyRequest, Transform>();

  app.addHook('preParsing', async (req, _reply, payload) => {
    const h = req.headers;
    if (h['content-length'] === undefined && h['transfer-encoding'] === undefined) return payload;
    if (h['content-length'] === '0') return payload;
    const buffered = !/^application\/octet-stream\b/i.test(h['content-type'] ?? '');
    let mine = 0;
    const release = () => {
      held -= mine;
      mine = 0;
    };
    const guard = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        if (buffered) {
          if (held + chunk.length > opts.memoryBytes) {
            cb(Errors.serviceUnavailable('The server is receiving too many request bodies at once; retry shortly.', { headers: { 'Retry-After': '5' } }));
            return;
          }
          held += chunk.length;
          mine += chunk.length;
        }
        cb(null, chunk);
      },
      flush(cb: TransformCallback) {
        release();
        cb();
      },
    });
    const timer = setTimeout(() => {
      guard.destroy(Errors.requestTimeout(`The request body did not arrive within ${Math.round(opts.timeoutMs / 1000)} s; send it faster or in smaller parts.`));
    }, opts.timeoutMs);
    timer.unref();
    guard.on('close', () => {
      clearTimeout(timer);
      release();
    });
    guard.once('end', () => clearTimeout(timer));
    // whoever reads the body reports its errors; unread (answered before parsing), they have no one to go to
    guard.on('error', () => {});
    guards.set(req, guard);
    payload.on('error', (err) => guard.destroy(err));
    payload.pipe(guard);
    // Fastify compares the received length with Content-Length on the stream it reads
    Object.defineProperty(guard, 'receivedEncodedLength', { get: () => (payload as { receivedEncodedLength?: number }).receivedEncodedLength ?? 0 });
    return guard;
  });

  app.addHook('onResponse', async (req) => {
    guards.get(req)?.destroy();
    lingerThenClose(req);
  });
});

/** The response is out but the body is still coming: drain it for a bounded while, then close the connection. */
function lingerThenClose(req: FastifyRequest) {
  const raw = req.raw;
  const socket = raw.socket;
  if (raw.complete || !socket || socket.destroyed) return;
  let drained = 0;
  const close = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  raw.unpipe();
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > LINGER_BYTES) close();
  });
  // the whole body arrived after all: the connection may serve the next request
  raw.once('end', () => clearTimeout(timer));
  raw.resume();
}

/** The 413 of a body over the route's limit, with the route's `*_too_large` code. */
export function bodyTooLarge(req: FastifyRequest): AppError {
  const code = req.routeOptions.config?.tooLargeCode ?? 'request_body_too_large';
  return new AppError(413, code, `The request body is larger than ${req.routeOptions.bodyLimit ?? 'this route accepts'} bytes, the limit of ${req.method} ${req.routeOptions.url ?? req.url}.`);
}
