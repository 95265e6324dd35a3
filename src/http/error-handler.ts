import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, Errors } from '../domain/errors.js';
import { isDependencyOutage } from '../model/unavailable.js';
import { bodyTooLarge } from './plugins/bodies.js';

const CONTEXT_CODE: Record<string, (m: string) => AppError> = {
  body: Errors.invalidInput,
  params: Errors.invalidPathParam,
  querystring: Errors.invalidQueryParam,
  headers: Errors.invalidHeader,
};

function describeValidation(err: FastifyError): string {
  const ctx = err.validationContext ?? 'body';
  const first = err.validation?.[0];
  if (!first) return err.message;
  const where = `${ctx}${first.instancePath ? first.instancePath.replace(/\//g, '.') : ''}`;
  if (first.keyword === 'additionalProperties') {
    return `${where}: unknown field "${(first.params as { additionalProperty?: string }).additionalProperty}" (unknown fields are rejected).`;
  }
  if (first.keyword === 'required') return `${where}: missing required field "${(first.params as { missingProperty?: string }).missingProperty}".`;
  // A union (anyOf) fails with one error per branch at the same path. A branch of the right type that broke a
  // constraint (maxLength, pattern…) explains best; otherwise name every accepted value or type, not just the
  // first branch's ("must be equal to constant").
  const here = (err.validation ?? []).filter((v) => v.instancePath === first.instancePath && v.keyword !== 'anyOf' && v.keyword !== 'oneOf');
  const specific = here.find((v) => !['type', 'const', 'enum'].includes(v.keyword)) ?? (here.length ? null : first);
  if (specific) {
    if (specific.keyword === 'minLength' && (specific.params as { limit?: number }).limit === 1) return `${where} must not be empty.`;
    return `${where} ${specific.message ?? 'is invalid'}.`;
  }
  const types = [...new Set(here.filter((v) => v.keyword === 'type').map((v) => String((v.params as { type?: unknown }).type)))];
  const allowed = [
    ...here.filter((v) => v.keyword === 'const').map((v) => JSON.stringify((v.params as { allowedValue?: unknown }).allowedValue)),
    ...here.filter((v) => v.keyword === 'enum').flatMap((v) => ((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((x) => JSON.stringify(x))),
  ];
  if (allowed.length) {
    const all = [...allowed, ...types.map((t) => (t === 'null' ? 'null' : `any ${t}`))];
    return `${where} must be ${all.length === 1 ? all[0] : `one of ${all.join(', ')}`}.`;
  }
  if (!first.instancePath && types.join() === 'object') return `${where} must be a JSON object.`;
  return `${where} must be ${types.length === 1 ? `of type ${types[0]}` : `one of the types ${types.join(', ')}`}.`;
}

/** Turns a thrown error into the spec's `{error, message}` body with the real status. */
export function toAppError(err: unknown, req?: FastifyRequest): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && req) return bodyTooLarge(req);
  if (fe.validation) return (CONTEXT_CODE[fe.validationContext ?? 'body'] ?? Errors.invalidInput)(describeValidation(fe));
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.invalidInput('Unsupported Content-Type: send JSON with "Content-Type: application/json" (blob uploads: application/octet-stream).');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.invalidInput('The request body is larger than this route accepts.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return Errors.invalidInput('The body is empty but Content-Type says JSON.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return Errors.invalidInput('Content-Length does not match the body.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INSTANCE_ALREADY_STARTED':
      return Errors.invalidInput('The body is not valid JSON.');
  }
  // @fastify/rate-limit throws what its errorResponseBuilder returns: a plain object with statusCode 429.
  if (fe.statusCode === 429) return Errors.rateLimited(typeof fe.message === 'string' && fe.message ? fe.message : 'Too many requests; retry later.');
  if (fe instanceof SyntaxError || fe.statusCode === 400) return Errors.invalidInput(`The body is not valid JSON: ${fe.message}`);
  // the docs' static files (@fastify/static): a path outside its root, or a file it does not have
  if (fe.statusCode === 403 || fe.statusCode === 404) return Errors.routeNotFound(`No route ${req ? `${req.method} ${req.url.split('?')[0]}` : 'here'}.`);
  if (isDependencyOutage(err)) {
    return Errors.serviceUnavailable('A service this request needs (database or storage) is not reachable; retry shortly.', {
      cause: err, headers: { 'Retry-After': '5' },
    });
  }
  return Errors.internal('Something went wrong on our side; the error was logged. Retry, or report the request id.', { cause: err });
}

export function registerErrorHandling(app: FastifyInstance, knownRoutes: { method: string; pattern: RegExp }[]) {
  // Bodies are JSON (blob uploads: octet-stream, parsed by their own route). Fastify's built-in text/plain parser
  // would hand a string to the JSON schema and answer "body must be object"; without it a text/plain body gets
  // the clear "Unsupported Content-Type" invalid_input below.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toAppError(err, req);
    if (e.status >= 500) req.log.error({ err: e.cause ?? err }, e.message);
    else req.log.info({ code: e.code, status: e.status }, e.message);
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    reply.code(e.status).send({ error: e.code, message: e.message });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const methods = knownRoutes.filter((r) => r.pattern.test(path)).map((r) => r.method);
    // a path the router did not match although a pattern does (an encoded "/" in a segment…) is not a method problem
    if (methods.length && !methods.includes(req.method)) {
      reply.header('Allow', [...new Set(methods)].join(', '));
      reply.code(405).send({ error: 'method_not_allowed', message: `${req.method} is not allowed on ${path}; use ${[...new Set(methods)].join(', ')}.` });
      return;
    }
    reply.code(404).send({ error: 'route_not_found', message: `No route ${req.method} ${path}. See /v1/openapi.json for the API.` });
  });
}

/**
 * Fastify's `frameworkErrors`: the router fails before any route or hook runs (a malformed %-escape, a path segment
 * over `maxParamLength`). Without it Fastify answers its own `{statusCode, code, …}` shape (414 for long segments).
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const e = err.code === 'FST_ERR_BAD_URL'
    ? Errors.invalidPathParam('The URL path contains a malformed %-escape.')
    : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? Errors.invalidPathParam('A path segment is longer than any id or name this API accepts.')
      : Errors.internal('Something went wrong on our side; the error was logged. Retry, or report the request id.', { cause: err });
  if (e.status >= 500) req.log.error({ err }, e.message);
  reply.header('x-request-id', req.id).code(e.status).send({ error: e.code, message: e.message });
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser rejects before Fastify sees them (headers over the
 * size limit, malformed HTTP, a body that never arrives). Answered on the raw socket in the `{error, message}` shape,
 * 400 as for other oversize input (no 431/408, as no 413/415).
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = err.code === 'HPE_HEADER_OVERFLOW'
    ? Errors.invalidHeader('The request headers are larger than the server accepts (16 KiB by default).')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? Errors.invalidInput('The request was not received completely in time; retry.')
      : Errors.invalidInput('The request is not valid HTTP.');
  const body = JSON.stringify({ error: e.code, message: e.message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: req_${randomUUID().replace(/-/g, '')}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** `/v1/deploys/:deployId` → a regex matching concrete paths, for the 405 check. */
export function routePattern(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}/?$`);
}
