import { existsSync, readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE, formatOpenApi } from '../../scripts/export-openapi.js';
import type { TestServer } from '../helpers/server.js';
import { startApiServer } from './helpers.js';
import { DASHBOARD_PAGES } from '../../src/http/dashboard.js';

let s: TestServer;
let doc: any;
beforeAll(async () => {
  s = await startApiServer();
  const res = await s.request('GET', '/v1/openapi.json', { key: null });
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(async () => s.stop());

/**
 * Every route the app registered, from Fastify's public route tree (`printRoutes({commonPrefix:false})`): each line
 * is `<indent><├──|└──> <segment> (<METHODS>)`, indented 4 characters per level; a node's path is its ancestors'
 * segments followed by its own.
 */
function registeredRoutes(tree: string): { method: string; url: string }[] {
  const stack: string[] = [];
  const routes: { method: string; url: string }[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    if (!m[3]) continue;
    const url = stack.join('');
    for (const method of m[3].split(',').map((x) => x.trim())) routes.push({ method, url });
  }
  return routes;
}

/**
 * Routes that are not API operations: the docs UI, the document itself, Prometheus metrics. Listed explicitly, so a
 * new hidden route is a decision someone makes here.
 */
// the dashboard's pages and assets are not API (printRoutes' tree shows its `/w/*` as `/*`)
const dashboard = (url: string) => DASHBOARD_PAGES.includes(url) || url === '/*' || url === '/assets/:file';
const undocumented = (url: string) => url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs*') || url === '/v1/openapi.json' || url === '/metrics' || dashboard(url);

describe('OpenAPI', () => {
  it('GET /v1/openapi.json (no auth) is a valid OpenAPI 3.1 document whose $refs resolve', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
    expect(doc.components.schemas.ErrorResponse).toMatchObject({
      type: 'object', required: ['error', 'message'], additionalProperties: false,
      properties: { error: { type: 'string' }, message: { type: 'string' } },
    });
  });

  it('every registered route is documented with an operationId, a summary and 4xx responses pointing at ErrorResponse', () => {
    const routes = registeredRoutes(s.app.printRoutes({ commonPrefix: false }))
      .filter((r) => r.method !== 'HEAD' && !undocumented(r.url));
    expect(routes.length).toBeGreaterThan(20);
    expect(routes).toContainEqual({ method: 'PATCH', url: '/v1/deploys/:deployId/settings' });
    const problems: string[] = [];
    const operationIds = new Map<string, string>();
    for (const { method, url } of routes) {
      const path = url.replace(/:(\w+)/g, '{$1}');
      const where = `${method} ${path}`;
      const op = doc.paths[path]?.[method.toLowerCase()];
      if (!op) {
        problems.push(`${where}: missing from paths`);
        continue;
      }
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (operationIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} also used by ${operationIds.get(op.operationId)}`);
      else operationIds.set(op.operationId, where);
      if (!op.summary) problems.push(`${where}: no summary`);
      if (!Array.isArray(op.tags) || op.tags.length === 0) problems.push(`${where}: no tags`);
      const errorStatuses = Object.keys(op.responses ?? {}).filter((code) => /^4\d\d$/.test(code));
      if (url.startsWith('/v1/') && !errorStatuses.includes('400')) problems.push(`${where}: no 400 response`);
      if (errorStatuses.length === 0) continue;
      for (const code of errorStatuses) {
        const schema = op.responses[code].content?.['application/json']?.schema;
        if (schema?.$ref !== '#/components/schemas/ErrorResponse') problems.push(`${where}: ${code} does not reference ErrorResponse (${JSON.stringify(schema)?.slice(0, 80)})`);
      }
      for (const param of url.match(/:(\w+)/g) ?? []) {
        const name = param.slice(1);
        if (!(op.parameters ?? []).some((p: { in: string; name: string }) => p.in === 'path' && p.name === name)) problems.push(`${where}: path parameter ${name} undocumented`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('nothing is documented that the app does not serve', () => {
    const served = new Set(registeredRoutes(s.app.printRoutes({ commonPrefix: false })).map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`));
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).filter((k) => ['get', 'put', 'post', 'patch', 'delete'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.filter((d) => !served.has(d))).toEqual([]);
  });

  it('operations needing no API key say so (security: []); the rest take an API key or a signed-in session', () => {
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'press_session' });
    expect(doc.paths['/v1/sessions'].post.security).toEqual([]);
    expect(doc.paths['/v1/user'].get.security).toEqual([{ session: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('a JSON body without required fields is documented as optional (the server reads no body as {})', async () => {
    expect(doc.paths['/v1/account'].patch.requestBody.required).toBe(false);
    expect(doc.paths['/v1/deploys/{deployId}'].patch.requestBody.required).toBe(false);
    expect(doc.paths['/v1/deploys'].post.requestBody.required).toBe(true);
    expect(doc.paths['/v1/api-keys'].post.requestBody.required).toBe(true);
    expect((await s.request('PATCH', '/v1/account')).status).toBe(200);
  });

  it('the published operationIds, a required X-Upload-Token on the upload routes, and the webhooks section (spec §9.2)', () => {
    const ops = new Map<string, string>();
    for (const [path, methods] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(methods)) ops.set(op.operationId, `${m.toUpperCase()} ${path}`);
    expect(ops.get('uploadUploadSessionBlob')).toBe('PUT /v1/upload-sessions/{uploadSessionId}/blobs/{sha256}');
    expect(ops.get('createPdfDownload')).toBe('POST /v1/pdfs/{pdfId}/download');
    expect(ops.get('createPdfPreview')).toBe('POST /v1/pdfs/{pdfId}/preview');
    expect(ops.get('createRenderJob')).toBe('POST /v1/render-jobs');
    expect(ops.get('createDeployRenderJob')).toBe('POST /v1/deploys/{deployId}/render-jobs');
    expect(ops.get('updateApiKey')).toBe('PATCH /v1/api-keys/{keyId}');
    for (const [path, m] of [['/v1/upload-sessions/{uploadSessionId}/blobs/{sha256}', 'put'], ['/v1/upload-sessions/{uploadSessionId}/commit', 'post']]) {
      expect(doc.paths[path][m].parameters.find((p: any) => p.name === 'x-upload-token'), path).toMatchObject({ in: 'header', required: true });
    }
    const hook = doc.webhooks['render.job.terminated'].post;
    expect(hook.parameters.map((p: any) => p.name)).toEqual([
      'Press-Webhook-Event', 'Press-Webhook-Id', 'Press-Webhook-Delivery', 'Press-Webhook-Attempt', 'Press-Webhook-Timestamp', 'Press-Webhook-Signature', 'User-Agent',
    ]);
    expect(Object.keys(hook.requestBody.content['application/json'].schema.properties)).toEqual(['id', 'type', 'createdAt', 'data']);
  });

  it('job diagnostics are one named component, referenced by every job response and the webhook body', () => {
    expect(doc.components.schemas.RenderJobDiagnostics).toMatchObject({
      type: 'object', additionalProperties: false,
      required: ['pageErrors', 'console', 'blockedRequests', 'failedRequests', 'omitted'],
    });
    const text = JSON.stringify(doc);
    const refs = text.split('"$ref":"#/components/schemas/RenderJobDiagnostics"').length - 1;
    // getRenderJob, listRenderJobs, the two createRenderJob operations, cancel… and the webhook: never inline
    expect(refs).toBeGreaterThanOrEqual(6);
    expect(text.split('"pageErrors":').length - 1).toBe(1);
    const job = doc.webhooks['render.job.terminated'].post.requestBody.content['application/json'].schema.properties.data.properties.job;
    expect(job.properties.diagnostics.anyOf).toContainEqual({ $ref: '#/components/schemas/RenderJobDiagnostics' });
  });

  it('/docs serves the HTML documentation UI without auth', async () => {
    const res = await s.request('GET', '/docs', { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<html/i);
  });

  it('/docs shows the package version: the document its UI loads (/docs/json) and /v1/openapi.json carry package.json\'s', async () => {
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
    const ui = await s.request('GET', '/docs/json', { key: null });
    expect(ui.status).toBe(200);
    expect(ui.body.info.version).toBe(version);
    expect(doc.info.version).toBe(version);
  });

  it('the committed openapi.json matches the live document', () => {
    const hint = 'openapi.json is out of date with the routes: run `npm run openapi` and commit the result.';
    expect(existsSync(OPENAPI_FILE), hint).toBe(true);
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    expect(JSON.parse(committed), hint).toEqual(doc);
    expect(committed, hint).toBe(formatOpenApi(doc));
  });
});
