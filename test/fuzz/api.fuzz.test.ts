import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '../../scripts/export-openapi.js';
import type { Role } from '../../src/model/records.js';
import { startApiServer } from '../api/helpers.js';
import type { TestServer } from '../helpers/server.js';
import { deployFiles, manifest } from '../helpers/uploads.js';

/*
 * Property-based fuzzing of the whole /v1 API, driven by openapi.json: every operation, called with each role of one
 * account (and without a key, and with a broken one), with the ids of its own resources, of another account's and of
 * none, and with malformed input (types, sizes, depth, encodings, headers, ids, cursors). Seeded and bounded:
 * PRESS_FUZZ_SEED picks the seed (default fixed), PRESS_FUZZ_RUNS the runs per operation (default 100, ≈ 4 600
 * requests in well under 2 min; e.g. 2000 for a long run). A run fails on any 5xx, any error body that is not exactly
 * `{error, message}`, any response slower than PRESS_FUZZ_MAX_MS (default 5 000), and any response that shows
 * something of the other account the request did not itself contain.
 */
const SEED = Number(process.env.PRESS_FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.PRESS_FUZZ_RUNS ?? 100);
const MAX_MS = Number(process.env.PRESS_FUZZ_MAX_MS ?? 5_000);

type Op = { method: string; path: string; op: any };
type Account = { accountId: string; keys: Record<Role, string> };

const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
const operations: Op[] = Object.entries<any>(doc.paths).flatMap(([path, methods]) =>
  Object.entries<any>(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));

let s: TestServer;
let me: Account;
let other: Account;
/** ids by path parameter name: mine (the caller's account) and theirs */
const mine: Record<string, string[]> = {};
const theirs: Record<string, string[]> = {};
/** strings of the other account that must never show up in a response to us unless we sent them */
const secrets: string[] = [];
/** secrets my admin or editor created under an Idempotency-Key: a weaker key must never see them (a replay) */
const roleSecrets: { minRole: Role; value: string }[] = [];
/** those requests (route → body text), offered again to every role with the same Idempotency-Keys */
const replayBodies: Record<string, string[]> = {};
const IDEM_KEYS = ['fuzz-idem-1', 'fuzz-idem-2'];
const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };
const totals = { requests: 0, statuses: {} as Record<number, number> };

async function seed(a: Account, into: Record<string, string[]>, tag: string) {
  const add = (k: string, v: string) => (into[k] ??= []).push(v);
  const marker = `marker-${tag}-${Math.random().toString(36).slice(2)}`;
  const d = await deployFiles(s, { createDeploy: { slug: `fz-${tag}`, name: marker } }, [{ path: 'index.html', content: `<p>${marker}</p>` }], {
    key: a.keys.editor, aliases: ['preview'],
  });
  add('deployId', d.deployId);
  add('deployVersionId', d.deployVersion.id);
  add('uploadSessionId', d.sessionId);
  add('sha256', manifest([{ path: 'index.html', content: `<p>${marker}</p>` }])[0].sha256);
  const open = await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: { deployId: d.deployId, files: manifest([{ path: 'a.txt', content: marker }]) } });
  add('uploadSessionId', open.body.uploadSession.id);
  add('uploadToken', open.body.uploadToken);
  const job = await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId: d.deployId, businessKey: marker, payload: { marker } } });
  add('jobId', job.body.job.id);
  const key = await s.request('POST', '/v1/api-keys', { key: a.keys.admin, json: { name: marker, role: 'viewer' } });
  add('keyId', key.body.apiKey.id);
  add('accountId', a.accountId);
  return [marker, d.deployId, d.deployVersion.id, d.sessionId, open.body.uploadSession.id, open.body.uploadToken, job.body.job.id, key.body.apiKey.id, key.body.key, a.accountId];
}

/** what my admin and editor create with Idempotency-Keys, so the fuzz can try to replay it with weaker keys */
async function seedReplays() {
  const keyBody = JSON.stringify({ name: 'replayed', role: 'admin' });
  const key = await s.request('POST', '/v1/api-keys', { key: me.keys.admin, body: keyBody, headers: { 'content-type': 'application/json', 'idempotency-key': IDEM_KEYS[0] } });
  roleSecrets.push({ minRole: 'admin', value: key.body.key });
  (replayBodies['/v1/api-keys'] ??= []).push(keyBody);
  const sessionBody = JSON.stringify({ deployId: mine.deployId[0], files: manifest([{ path: 'r.txt', content: 'replay' }]) });
  const session = await s.request('POST', '/v1/upload-sessions', { key: me.keys.editor, body: sessionBody, headers: { 'content-type': 'application/json', 'idempotency-key': IDEM_KEYS[1] } });
  roleSecrets.push({ minRole: 'editor', value: session.body.uploadToken });
  (replayBodies['/v1/upload-sessions'] ??= []).push(sessionBody);
}

beforeAll(async () => {
  s = await startApiServer();
  me = await s.newAccount('fuzz-me');
  other = await s.newAccount('fuzz-other');
  await seed(me, mine, 'me');
  secrets.push(...(await seed(other, theirs, 'other')));
  await seedReplays();
});

afterAll(async () => {
  console.log(`fuzz: seed ${SEED}, ${RUNS} runs × ${operations.length} operations: ${totals.requests} requests, statuses ${JSON.stringify(totals.statuses)}`);
  await s?.stop();
});

// ---- generators ----

const printable = fc.string({ unit: fc.constantFrom(...' !#$%&()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~'.split('')), maxLength: 40 });
const weird = fc.oneof(
  fc.constantFrom('', ' ', '..', '../..', '%2e%2e%2f', '%00', 'null', '-1', '0', '1e309', 'ä', '🙂', '\\', '%', '%zz', 'a'.repeat(300)),
  fc.string({ maxLength: 30 }),
  printable,
);
const idShapes = (prefix: string) => fc.oneof(
  fc.constantFrom(`${prefix}_abc123`, `${prefix}_`, `${prefix}_${'A'.repeat(26)}`, `${prefix}_${'x'.repeat(130)}`, 'dpl_abc', 'rj_abc'),
  fc.stringMatching(new RegExp(`^${prefix}_[0-9A-Za-z_-]{1,40}$`)),
);
const PREFIX: Record<string, string> = { deployId: 'dpl', deployVersionId: 'dv', uploadSessionId: 'us', jobId: 'rj', pdfId: 'pdf', keyId: 'key', accountId: 'acct' };

/** A path or query value for a parameter: my ids, the other account's, well-formed unknown ones, garbage. */
function paramValue(name: string): fc.Arbitrary<string> {
  const pools = [...(mine[name] ?? []), ...(theirs[name] ?? [])];
  const options: fc.Arbitrary<string>[] = [weird];
  if (pools.length) options.push(fc.constantFrom(...pools), fc.constantFrom(...pools));
  if (PREFIX[name]) options.push(idShapes(PREFIX[name]));
  if (name === 'sha256') options.push(fc.stringMatching(/^[0-9a-f]{64}$/));
  if (name === 'alias') options.push(fc.constantFrom('preview', 'production', 'latest', 'Bad Name', 'x'.repeat(64)));
  if (name === 'limit') options.push(fc.integer({ min: -5, max: 200 }).map(String));
  if (name === 'cursor') options.push(fc.base64String({ maxLength: 60 }), fc.constantFrom('eyJ0IjoxfQ', 'e30'));
  if (name === 'status') options.push(fc.constantFrom('queued', 'failed', 'succeeded', 'nope'));
  if (name === 'disposition') options.push(fc.constantFrom('inline', 'attachment'));
  if (name === 'expires') options.push(fc.integer({ min: -1, max: 2 ** 53 }).map(String));
  // never hold a response for long: ?wait is 0 or 1 s, or malformed
  if (name === 'wait') return fc.constantFrom('0', '1', '-1', 'x', '61', '0.5');
  return fc.oneof(...options);
}

function resolveRef(schema: any): any {
  if (schema?.$ref) {
    const name = schema.$ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '');
    return doc.components.schemas[name];
  }
  return schema;
}

/** A value that fits the schema (roughly), with the id pools for id-named fields. */
function fromSchema(schema: any, field = '', depth = 0): fc.Arbitrary<unknown> {
  schema = resolveRef(schema) ?? {};
  if (depth > 4) return fc.constant(null);
  if (PREFIX[field] || field === 'deployVersionId') return paramValue(field);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return fc.oneof(...alts.map((a: any) => fromSchema(a, field, depth + 1)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'object': {
      const props = Object.fromEntries(Object.entries<any>(schema.properties ?? {}).map(([k, v]) => [k, fromSchema(v, k, depth + 1)]));
      if (!schema.properties && schema.patternProperties) {
        return fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)), { maxKeys: 3 });
      }
      return fc.record(props, { requiredKeys: schema.required ?? [] });
    }
    case 'array':
      return fc.array(fromSchema(schema.items ?? {}, field, depth + 1), { maxLength: 3 });
    case 'string':
      if (schema.pattern) {
        try {
          return fc.oneof(fc.stringMatching(new RegExp(schema.pattern)).filter((x) => x.length <= (schema.maxLength ?? 1e9)), weird);
        } catch {
          return weird;
        }
      }
      return fc.oneof(fc.string({ maxLength: schema.maxLength ? Math.min(schema.maxLength, 60) : 60 }), weird);
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double();
    case 'boolean':
      return fc.boolean();
    default:
      // any JSON (a payload): sometimes nested thousands of levels deep, spliced in after stringifying (see jsonBody)
      return fc.oneof({ weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 5_000 }).map((n) => `${DEEP}${n}`) });
  }
}

const DEEP = '\u0000deep:';
const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
const spliceDeep = (text: string) => text.replace(/"\\u0000deep:(\d+)"/g, (_, n) => nest(Number(n)));
const deep = fc.integer({ min: 50, max: 5_000 }).map(nest);

/** A request body as text: valid-ish JSON from the schema (usually), or anything else a client could send. */
function jsonBody(schema: any, path = ''): fc.Arbitrary<string | undefined> {
  const replays = replayBodies[path] ?? [];
  return fc.oneof(
    { weight: 8, arbitrary: fromSchema(schema).map((v) => spliceDeep(JSON.stringify(v))) },
    ...(replays.length ? [{ weight: 3, arbitrary: fc.constantFrom(...replays) }] : []),
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, '', '{', '{"a":', 'null', '[]', '\ufeff{}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}') },
    { weight: 1, arbitrary: deep.map((d) => `{"payload":${d},"name":${d}}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
}

const bearer = (k: string) => `Bearer ${k}`;
const authHeader = () => fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(bearer(me.keys.admin), bearer(me.keys.editor), bearer(me.keys.viewer)) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer', `bearer  ${me.keys.viewer}`, `Basic ${me.keys.admin}`, 'Bearer pcak_' + 'x'.repeat(40), `Bearer ${me.keys.admin}x`) },
);

interface FuzzRequest {
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

function requestFor({ path, op }: Op): fc.Arbitrary<FuzzRequest> {
  const params: any[] = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const content = op.requestBody?.content ?? {};
  const body: fc.Arbitrary<string | Uint8Array | undefined> = content['application/octet-stream']
    ? fc.oneof(fc.uint8Array({ maxLength: 2_000 }), fc.constant(undefined))
    : content['application/json'] ? jsonBody(content['application/json'].schema, path) : fc.oneof(fc.constant(undefined), jsonBody({}));
  const contentType = content['application/octet-stream']
    ? fc.constantFrom('application/octet-stream', 'application/json', 'text/plain', '')
    : fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', '') });
  return fc.record({
    pathValues: fc.tuple(...pathParams.map((p) => paramValue(p.name)) as [fc.Arbitrary<string>]),
    query: fc.tuple(
      fc.tuple(...queryParams.map((p) => fc.option(paramValue(p.name), { nil: undefined })) as [fc.Arbitrary<string | undefined>]),
      fc.option(fc.tuple(printable, printable), { nil: undefined }),
    ),
    auth: authHeader(),
    token: fc.option(fc.constantFrom(...(mine.uploadToken ?? []), ...(theirs.uploadToken ?? []), 'ustk_x', ''), { nil: undefined }),
    idem: fc.option(fc.oneof(printable.filter((x) => x.trim().length > 0), fc.constantFrom(...IDEM_KEYS)), { nil: undefined }),
    contentType,
    body,
  }).map(({ pathValues, query, auth, token, idem, contentType: ct, body: b }) => {
    let p = path;
    pathParams.forEach((param, i) => (p = p.replace(`{${param.name}}`, encodeURIComponent((pathValues as string[])[i]))));
    const q: [string, string][] = [];
    queryParams.forEach((param, i) => {
      const v = (query[0] as (string | undefined)[])[i];
      if (v !== undefined) q.push([param.name, v]);
    });
    if (query[1]) q.push(query[1]);
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (token !== undefined) headers['x-upload-token'] = token;
    if (idem !== undefined) headers['idempotency-key'] = idem;
    if (b !== undefined && ct) headers['content-type'] = ct;
    return { path: p, query: q, headers, body: b };
  });
}

const safeDecode = (u: string) => {
  try {
    return decodeURIComponent(u);
  } catch {
    return u;
  }
};

async function send(method: string, r: FuzzRequest) {
  const url = new URL(s.url + r.path);
  for (const [k, v] of r.query) url.searchParams.append(k, v);
  const started = performance.now();
  const res = await fetch(url, {
    method, headers: r.headers, body: method === 'GET' || method === 'HEAD' ? undefined : (r.body as BodyInit | undefined),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  totals.requests++;
  totals.statuses[res.status] = (totals.statuses[res.status] ?? 0) + 1;
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, ms, url: url.toString() };
}

describe(`API fuzz (seed ${SEED}, ${RUNS} runs per operation)`, () => {
  it('covers every operation of openapi.json', () => {
    expect(operations.length).toBeGreaterThan(40);
  });

  for (const o of operations) {
    it(`${o.method} ${o.path}`, async () => {
      await fc.assert(
        fc.asyncProperty(requestFor(o), async (r) => {
          const res = await send(o.method, r);
          const where = `${o.method} ${res.url} → ${res.status}: ${res.text.slice(0, 300)}`;
          expect(res.status, where).toBeLessThan(500);
          expect(res.ms, `${where} took ${Math.round(res.ms)} ms`).toBeLessThan(MAX_MS);
          if (res.status >= 400) {
            expect(res.type, where).toMatch(/^application\/json/);
            const body = JSON.parse(res.text);
            expect(Object.keys(body).sort(), where).toEqual(['error', 'message']);
            expect(typeof body.error === 'string' && /^[a-z_]+$/.test(body.error) && typeof body.message === 'string' && body.message.length > 0, where).toBe(true);
          }
          // the other account's ids, names, tokens: never in a response unless the request itself carried them
          const sent = safeDecode(res.url) + JSON.stringify(r.headers) + (typeof r.body === 'string' ? r.body : '');
          const leaked = secrets.filter((x) => res.text.includes(x) && !sent.includes(x));
          expect(leaked, where).toEqual([]);
          // nor what a stronger key of my account created, to a weaker one
          const role = (Object.keys(me.keys) as Role[]).find((k) => r.headers.authorization?.includes(me.keys[k]));
          const shown = roleSecrets.filter((x) => res.text.includes(x.value) && (!role || RANK[role] < RANK[x.minRole]));
          expect(shown, `${where} (as ${role ?? 'no key'})`).toEqual([]);
        }),
        { seed: SEED + o.path.length * 31 + o.method.length, numRuns: RUNS, endOnFailure: false },
      );
    }, 10 * 60_000);
  }
});
