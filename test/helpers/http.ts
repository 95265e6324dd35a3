import { expect } from 'vitest';

export interface RequestOpts {
  /** API key: the client's default when omitted, none when null */
  key?: string | null;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export type Requester = { request(method: string, path: string, opts?: RequestOpts): Promise<TestResponse> };

/** Real HTTP against any Press Cloud base URL (a test server, a child process): JSON bodies encoded, responses parsed. */
export function httpClient(baseUrl: string | (() => string), defaultKey: string): Requester {
  return {
    async request(method: string, path: string, opts: RequestOpts = {}): Promise<TestResponse> {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const key = opts.key === undefined ? defaultKey : opts.key;
      if (key !== null) headers.authorization ??= `Bearer ${key}`;
      let body: string | Buffer | undefined = opts.body;
      if (opts.json !== undefined) {
        body = JSON.stringify(opts.json);
        headers['content-type'] ??= 'application/json';
      }
      const base = typeof baseUrl === 'function' ? baseUrl() : baseUrl;
      const res = await fetch(`${base}${path}`, { method, headers, body: body as BodyInit | undefined });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
  };
}

/**
 * Asserts the spec's error contract: the real status, a body of exactly `{error, message}`, never a Fastify-shaped
 * error or a stack trace, and the request id header.
 */
export function expectError(res: TestResponse, status: number, code: string) {
  expect({ status: res.status, error: res.body?.error }, res.text).toEqual({ status, error: code });
  expect(Object.keys(res.body).sort()).toEqual(['error', 'message']);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message.length).toBeGreaterThan(0);
  expect(res.text).not.toMatch(/statusCode|"stack"|\n\s+at /);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-request-id')).toBeTruthy();
}
