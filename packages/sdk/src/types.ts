/**
 * Types of the API, all derived from `schema.d.ts` — which `npm run sdk:types` generates from the committed
 * `openapi.json` with openapi-typescript. Nothing here restates a field: a change to the server's schemas shows up
 * as a type error in the SDK and its callers.
 */
import type { components, paths } from './schema.js';

export type { paths } from './schema.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';

type Defined<T> = Exclude<T, undefined>;

/** The API paths that have an operation for `M`. */
export type PathsFor<M extends HttpMethod> = {
  [P in keyof paths]: [Defined<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

/** The generated operation object of `M P`. */
export type Operation<P extends keyof paths, M extends HttpMethod> = Defined<paths[P][M]>;

type ParamsOf<O> = O extends { parameters: infer X } ? X : never;
type Responses<O> = O extends { responses: infer R } ? R : never;
type JsonContent<X> = X extends { content: { 'application/json': infer J } } ? J : never;

/** Path parameters of `M P` (never when the path has none). */
export type PathParams<P extends keyof paths, M extends HttpMethod> =
  ParamsOf<Operation<P, M>> extends { path: infer X } ? X : never;
/** Query parameters of `M P`. */
export type QueryParams<P extends keyof paths, M extends HttpMethod> =
  ParamsOf<Operation<P, M>> extends { query?: infer Q } ? Defined<Q> : never;
/** Declared request headers of `M P` (e.g. `idempotency-key`, `x-upload-token`). */
export type HeaderParams<P extends keyof paths, M extends HttpMethod> =
  ParamsOf<Operation<P, M>> extends { header?: infer H } ? Defined<H> : never;
/** The JSON request body of `M P`. */
export type JsonBody<P extends keyof paths, M extends HttpMethod> =
  Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** The parsed JSON of a 2xx answer of `M P`; `undefined` for 204; never for binary answers (use `raw`). */
export type Ok<P extends keyof paths, M extends HttpMethod> = {
  [C in keyof Responses<Operation<P, M>>]: C extends 200 | 201 | 202
    ? JsonContent<Responses<Operation<P, M>>[C]>
    : C extends 204
      ? undefined
      : never;
}[keyof Responses<Operation<P, M>>];

type BodyField<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? { body: B }
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? { body?: B }
    : O extends { requestBody: { content: { 'application/octet-stream': unknown } } }
      ? { body: Uint8Array | (() => Promise<Uint8Array>) }
      : { body?: undefined };

/** When a failed request may be sent again (see `Transport`). */
export type RetryMode = 'safe' | 'rejected-only';

/** What one call of `M P` takes: typed path/query/header parameters and body, plus transport options. */
export type RequestInit<P extends keyof paths, M extends HttpMethod> = ([PathParams<P, M>] extends [never]
  ? { path?: undefined }
  : { path: PathParams<P, M> }) & {
  query?: QueryParams<P, M>;
  headers?: HeaderParams<P, M>;
  signal?: AbortSignal;
  /**
   * `safe`: retried on network errors, 429 and 5xx (reads, PUT/DELETE, creates carrying an Idempotency-Key).
   * `rejected-only`: retried only on answers that say nothing was done (429). Default by method.
   */
  retry?: RetryMode;
} & BodyField<Operation<P, M>>;

// ---- Named resource types, taken from the operations that return them ----

export type Account = Ok<'/v1/account', 'get'>['account'];
export type ApiKey = Ok<'/v1/api-keys', 'post'>['apiKey'];
export type Deploy = Ok<'/v1/deploys/{deployId}', 'get'>['deploy'];
export type DeployListItem = Ok<'/v1/deploys', 'get'>['items'][number];
export type DeployVersion = Ok<'/v1/deploys/{deployId}/versions/{deployVersionId}', 'get'>['deployVersion'];
export type DeployVersionFile = Ok<'/v1/deploys/{deployId}/versions/{deployVersionId}/files', 'get'>['items'][number];
export type Alias = Ok<'/v1/deploys/{deployId}/aliases/{alias}', 'put'>['alias'];
export type DeploySettings = Ok<'/v1/deploys/{deployId}/settings', 'get'>['settings'];
export type UploadSession = Ok<'/v1/upload-sessions/{uploadSessionId}', 'get'>['uploadSession'];
export type UploadFile = JsonBody<'/v1/upload-sessions', 'post'>['files'][number];
export type RenderJob = Ok<'/v1/render-jobs/{jobId}', 'get'>['job'];
export type RenderJobStatus = RenderJob['status'];
/** What went wrong inside the page during a job's last attempt (spec §9.1); `null` on a job before it ends. */
export type RenderJobDiagnostics = components['schemas']['RenderJobDiagnostics'];
export type CreateRenderJobInput = JsonBody<'/v1/render-jobs', 'post'>;
export type Pdf = Ok<'/v1/pdfs/{pdfId}', 'get'>['pdf'];
export type SignedAccess = Ok<'/v1/pdfs/{pdfId}/download', 'post'>['access'];
export type Usage = Ok<'/v1/usage', 'get'>;
export type WebhookDelivery = Ok<'/v1/deploys/{deployId}/webhook-deliveries', 'get'>['items'][number];

/** A page of a list endpoint: `{items, nextCursor}` (`nextCursor` null on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
