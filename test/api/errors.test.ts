import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { createDeploy, expectError, startApiServer, unknownId } from './helpers.js';

let s: TestServer;
let deployId: string;
beforeAll(async () => {
  s = await startApiServer();
  deployId = await createDeploy(s, 'conventions');
});
afterAll(async () => s.stop());

describe('routing', () => {
  it('unknown route → 404 route_not_found (no auth needed to learn that)', async () => {
    expectError(await s.request('GET', '/v1/nope'), 404, 'route_not_found');
    expectError(await s.request('GET', '/v1/nope', { key: null }), 404, 'route_not_found');
    expectError(await s.request('GET', '/nothing/here'), 404, 'route_not_found');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/unknown`), 404, 'route_not_found');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${unknownId('dv')}/files/extra`), 404, 'route_not_found');
  });

  it('wrong method → 405 method_not_allowed with an Allow header, also on routes with path params', async () => {
    const cases: [string, string, string[]][] = [
      ['PUT', '/v1/deploys', ['GET', 'POST']],
      ['DELETE', '/v1/account', ['GET', 'PATCH']],
      ['POST', `/v1/deploys/${deployId}`, ['DELETE', 'GET', 'PATCH']],
      ['POST', `/v1/deploys/${unknownId('dpl')}`, ['DELETE', 'GET', 'PATCH']],
      ['GET', `/v1/deploys/${deployId}/aliases/preview`, ['DELETE', 'PUT']],
      ['POST', `/v1/deploys/${deployId}/versions/${unknownId('dv')}`, ['GET']],
      ['GET', `/v1/api-keys/${unknownId('key')}`, ['DELETE', 'PATCH']],
      ['DELETE', `/v1/deploys/${deployId}/settings`, ['GET', 'PATCH']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await s.request(method, path);
      expectError(res, 405, 'method_not_allowed');
      const allow = res.headers.get('allow')!.split(',').map((m) => m.trim()).filter((m) => m !== 'HEAD').sort();
      expect(allow, `${method} ${path}`).toEqual(allowed);
    }
  });

  it('trailing slash and query strings do not change the route', async () => {
    expect((await s.request('GET', '/v1/deploys/?limit=5')).status).toBe(200);
    const res = await s.request('PUT', '/v1/deploys/?limit=5');
    expectError(res, 405, 'method_not_allowed');
  });
});

describe('bodies', () => {
  it('malformed JSON → 400 invalid_input', async () => {
    const res = await s.request('POST', '/v1/deploys', { body: '{"slug":', headers: { 'content-type': 'application/json' } });
    expectError(res, 400, 'invalid_input');
    expect(res.body.message).toMatch(/JSON/);
  });

  it('wrong content type → 400 invalid_input, never 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/xml']) {
      const res = await s.request('POST', '/v1/deploys', { body: JSON.stringify({ slug: 'ct', name: 'ct' }), headers: { 'content-type': type } });
      expectError(res, 400, 'invalid_input');
      expect(res.body.message, type).toMatch(/Content-Type/i);
    }
    const patch = await s.request('PATCH', `/v1/deploys/${deployId}`, { body: '{"name":"x"}', headers: { 'content-type': 'text/plain' } });
    expectError(patch, 400, 'invalid_input');
  });

  it('wrong types → 400 invalid_input, no coercion', async () => {
    const res = await s.request('POST', '/v1/deploys', { json: { slug: 'typed', name: 123 } });
    expectError(res, 400, 'invalid_input');
    expect(res.body.message).toMatch(/name/);
    expectError(await s.request('POST', '/v1/deploys', { json: { slug: 123, name: 'x' } }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/api-keys', { json: { name: 'k', role: 'root' } }), 400, 'invalid_input');
    expectError(await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: 'true' } } }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/deploys', { json: ['slug', 'name'] }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/deploys', { json: null }), 400, 'invalid_input');
    expect((await s.request('GET', '/v1/deploys')).body.items.map((d: { slug: string }) => d.slug)).toEqual(['conventions']);
  });

  it('messages say what is accepted: every value of an enum, every type of a union, the broken constraint', async () => {
    const role = await s.request('POST', '/v1/api-keys', { json: { name: 'k', role: 'root' } });
    expectError(role, 400, 'invalid_input');
    expect(role.body.message).toBe('body.role must be one of "admin", "editor", "viewer".');
    const action = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { signingSecretAction: 'reveal' } } });
    expect(action.body.message).toBe('body.webhook.signingSecretAction must be one of "enable", "rotate", "disable", "clear".');
    const url = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { url: 5 } } });
    expect(url.body.message).toBe('body.webhook.url must be one of the types string, null.');
    const long = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { url: `https://x.test/${'a'.repeat(2048)}` } } });
    expect(long.body.message).toMatch(/^body\.webhook\.url must NOT have more than 2048 characters/);
    const empty = await s.request('POST', '/v1/deploys', { json: { slug: 'ok', name: '' } });
    expect(empty.body.message).toBe('body.name must not be empty.');
    const array = await s.request('POST', '/v1/deploys', { json: [] });
    expect(array.body.message).toBe('body must be a JSON object.');
  });

  it('missing required fields name the field', async () => {
    const res = await s.request('POST', '/v1/deploys', { json: { name: 'x' } });
    expectError(res, 400, 'invalid_input');
    expect(res.body.message).toMatch(/slug/);
    expectError(await s.request('POST', '/v1/deploys'), 400, 'invalid_input');
  });

  it('unknown body fields are accepted and ignored, top level and nested (spec §9.2); the known ones still apply', async () => {
    const res = await s.request('POST', '/v1/deploys', { json: { slug: 'extra', name: 'x', colour: 'blue' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.deploy).not.toHaveProperty('colour');
    const nested = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: false, secret: 'x' } } });
    expect(nested.status, nested.text).toBe(200);
    expect(nested.body.settings.webhook).not.toHaveProperty('secret');
    const acct = await s.request('PATCH', '/v1/account', { json: { plan: 'pro' } });
    expect(acct.status).toBe(200);
    expect(acct.body.account.plan.key).toBe('unlimited');
    // a known field is still checked
    expectError(await s.request('POST', '/v1/deploys', { json: { slug: 'Bad Slug', name: 'x', colour: 'blue' } }), 400, 'invalid_input');
  });

  it('body over 1 MiB → 413 request_body_too_large', async () => {
    const res = await s.request('POST', '/v1/deploys', { json: { slug: 'big', name: 'x'.repeat(1024 * 1024 + 10) } });
    expectError(res, 413, 'request_body_too_large');
  });

  it('a JSON Content-Type without a body is fine on routes that take none', async () => {
    const id = await createDeploy(s, 'empty-delete');
    const del = await s.request('DELETE', `/v1/deploys/${id}`, { headers: { 'content-type': 'application/json' } });
    expect(del.status).toBe(204);
    expect((await s.request('GET', '/v1/deploys', { headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });

  it('an empty body on an optional-body route is accepted', async () => {
    expect((await s.request('PATCH', '/v1/account')).status).toBe(200);
    expect((await s.request('PATCH', '/v1/account', { body: '', headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect((await s.request('PATCH', '/v1/account', { json: {} })).status).toBe(200);
  });
});

describe('path and query parameters', () => {
  it('bad path ids → 400 invalid_path_param', async () => {
    expectError(await s.request('GET', '/v1/deploys/nope'), 400, 'invalid_path_param');
    expectError(await s.request('GET', `/v1/deploys/${unknownId('dv')}`), 400, 'invalid_path_param');
    expectError(await s.request('PATCH', '/v1/deploys/dpl_', { json: { name: 'x' } }), 400, 'invalid_path_param');
    expectError(await s.request('DELETE', `/v1/deploys/${unknownId('us')}`), 400, 'invalid_path_param');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${unknownId('dpl')}`), 400, 'invalid_path_param');
    expectError(await s.request('DELETE', '/v1/api-keys/pcak_notanid'), 400, 'invalid_path_param');
    const res = await s.request('GET', '/v1/deploys/nope');
    expect(res.body.message).toMatch(/deployId/);
  });

  it('router-level failures keep the error shape: malformed %-escapes and over-long segments → 400 invalid_path_param', async () => {
    expectError(await s.request('GET', '/v1/deploys/%E0%A4%A'), 400, 'invalid_path_param');
    expectError(await s.request('GET', `/v1/deploys/dpl_${'a'.repeat(200)}`), 400, 'invalid_path_param');
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/${'a'.repeat(150)}`, { json: { deployVersionId: unknownId('dv') } }), 400, 'invalid_path_param');
  });

  it('bad cursor / limit → 400 invalid_query_param', async () => {
    for (const q of ['cursor=nope', 'cursor=' + Buffer.from('[1,2,3]').toString('base64url'), 'limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=-1']) {
      const res = await s.request('GET', `/v1/deploys?${q}`);
      expectError(res, 400, 'invalid_query_param');
    }
    expectError(await s.request('GET', '/v1/api-keys?limit=0'), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions?cursor=%%%`), 400, 'invalid_query_param');
    expect((await s.request('GET', '/v1/deploys?limit=1')).status).toBe(200);
    expect((await s.request('GET', '/v1/deploys?limit=100')).status).toBe(200);
  });
});

describe('headers', () => {
  it('headers over the size limit → 400 invalid_header in the usual shape', async () => {
    const res = await s.request('GET', '/v1/deploys', { headers: { 'x-padding': 'a'.repeat(20_000) } });
    expectError(res, 400, 'invalid_header');
    // the server still answers afterwards
    expect((await s.request('GET', '/v1/deploys')).status).toBe(200);
  });


  it('every response carries x-request-id; a valid given one is echoed, an invalid one replaced', async () => {
    const given = await s.request('GET', '/v1/account', { headers: { 'x-request-id': 'client-req.42' } });
    expect(given.headers.get('x-request-id')).toBe('client-req.42');
    const bad = await s.request('GET', '/v1/account', { headers: { 'x-request-id': 'has spaces and <tags>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    for (const res of [
      await s.request('GET', '/v1/deploys'),
      await s.request('GET', '/v1/nope'),
      await s.request('GET', '/v1/deploys', { key: null }),
      await s.request('POST', '/v1/deploys', { body: '{', headers: { 'content-type': 'application/json' } }),
      await s.request('GET', '/healthz', { key: null }),
    ]) expect(res.headers.get('x-request-id')).toBeTruthy();
    const err = await s.request('GET', '/v1/nope', { headers: { 'x-request-id': 'trace-1' } });
    expect(err.headers.get('x-request-id')).toBe('trace-1');
  });
});
