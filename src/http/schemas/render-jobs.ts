import { Type, type Static } from 'typebox';
import { DEFAULT_LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS } from '../../domain/links.js';
import { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS } from '../../model/diagnostics.js';
import { RENDER_JOB_STATUSES } from '../../model/records.js';
import { PAPER_FORMATS } from '@press-cloud/engine';
import { Id, Millis, NullableMillis } from './common.js';


const CssLength = (what: string) =>
  Type.String({ maxLength: 32, pattern: '^\\d+(\\.\\d+)?(px|in|cm|mm)?$', description: `${what}: a number with px (default), in, cm or mm` });

/** [ours] Playwright page.pdf() options, as press.toml's [playwright] table holds them (spec §9.4). */
export const PdfOptions = Type.Object(
  {
    format: Type.Optional(Type.Unsafe<(typeof PAPER_FORMATS)[number]>(
      Type.String({ enum: [...PAPER_FORMATS], description: 'paper size; overrides the CSS page size unless preferCSSPageSize is true' }),
    )),
    landscape: Type.Optional(Type.Boolean()),
    margin: Type.Optional(Type.Object(
      { top: Type.Optional(CssLength('top')), right: Type.Optional(CssLength('right')), bottom: Type.Optional(CssLength('bottom')), left: Type.Optional(CssLength('left')) },
      { additionalProperties: false },
    )),
    printBackground: Type.Optional(Type.Boolean({ description: 'default true' })),
    scale: Type.Optional(Type.Number({ minimum: 0.1, maximum: 2 })),
    preferCSSPageSize: Type.Optional(Type.Boolean({ description: 'default: true unless format, width or height is given' })),
    width: Type.Optional(CssLength('paper width')),
    height: Type.Optional(CssLength('paper height')),
  },
  {
    title: 'PdfOptions', additionalProperties: false,
    description: '[ours] print options (Playwright page.pdf() names, press.toml [playwright]); without them the document\'s CSS page size is printed with backgrounds',
  },
);

const Located = { source: Type.Union([Type.String(), Type.Null()]), line: Type.Union([Type.Integer(), Type.Null()]) };

/** Registered once with app.addSchema: one named component in openapi.json (and one type in the SDK). */
export const RenderJobDiagnostics = Type.Object(
  {
    pageErrors: Type.Array(Type.Object({ message: Type.String(), ...Located }, { additionalProperties: false }), {
      description: 'uncaught exceptions and unhandled rejections of the page, with the script and line when known',
    }),
    console: Type.Array(
      Type.Object({ level: Type.String({ enum: ['error', 'warning'] }), text: Type.String(), ...Located }, { additionalProperties: false }),
      { description: 'console.error / console.warn output (and Chromium\'s own errors, e.g. a failed resource)' },
    ),
    blockedRequests: Type.Array(
      Type.Object({
        url: Type.String({ description: 'without query and fragment' }),
        reason: Type.String({ enum: ['external_network_not_allowed', 'address_not_allowed', 'scheme_not_allowed', 'navigation_not_allowed'] }),
      }, { additionalProperties: false }),
      { description: 'requests the network policy refused' },
    ),
    failedRequests: Type.Array(
      Type.Object({
        url: Type.String({ description: 'without query and fragment' }),
        status: Type.Union([Type.Integer(), Type.Null()], { description: '4xx/5xx, or null when no response came' }),
        error: Type.Union([Type.String(), Type.Null()]),
      }, { additionalProperties: false }),
      { description: 'e.g. a 404 for a file missing from the deploy version' },
    ),
    omitted: Type.Integer({ description: `items left out over the caps (${DIAGNOSTICS_MAX_ITEMS} per list, ${DIAGNOSTICS_MAX_BYTES} bytes in all)` }),
  },
  {
    $id: 'RenderJobDiagnostics', title: 'RenderJobDiagnostics', additionalProperties: false,
    description: 'What went wrong inside the page during the last attempt (spec §9.1); texts are truncated and secrets masked.',
  },
);

const RenderJobDiagnosticsRef = Type.Unsafe<Static<typeof RenderJobDiagnostics>>({ $ref: 'RenderJobDiagnostics#' });

export const RenderJob = Type.Object(
  {
    id: Id('rj'), deployId: Id('dpl'), deployVersionId: Id('dv'),
    businessKey: Type.Union([Type.String(), Type.Null()]),
    entry: Type.String(),
    status: Type.String({ enum: [...RENDER_JOB_STATUSES] }),
    attempt: Type.Integer({ description: 'retries so far: 0 while the first attempt runs and after it succeeds, 1 during the first retry…' }),
    maxAttempts: Type.Integer(),
    outputMode: Type.String({ enum: ['transient', 'managed'] }),
    timeoutMs: Type.Integer({ description: "[ours] the render limit of each attempt in ms: the create request's timeoutMs, else the plan's maxRenderTimeoutMs" }),
    requestedAt: Millis(), startedAt: NullableMillis(), finishedAt: NullableMillis(),
    nextAttemptAt: NullableMillis('when a scheduled retry runs'),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    diagnostics: Type.Union([RenderJobDiagnosticsRef, Type.Null()], { description: 'on every terminal job (and while a retry is scheduled); null before' }),
    pdfOptions: Type.Union([PdfOptions, Type.Null()], { description: '[ours] the print options given at create time; null: none' }),
    output: Type.Union([
      Type.Object({
        fileName: Type.String(), bytes: Type.Integer(), pageCount: Type.Integer(),
        expiresAt: NullableMillis('transient outputs: when they are deleted; managed: null'),
        expired: Type.Boolean(),
        pdfId: Type.Union([Id('pdf'), Type.Null()]),
      }),
      Type.Null(),
    ]),
  },
  { title: 'RenderJob', additionalProperties: false },
);

export const Pdf = Type.Object(
  {
    id: Id('pdf'), state: Type.Literal('available'), fileName: Type.String(), bytes: Type.Integer(), pageCount: Type.Integer(),
    deployId: Id('dpl'), deployVersionId: Id('dv'), renderJobId: Id('rj'), businessKey: Type.Union([Type.String(), Type.Null()]), createdAt: Millis(),
  },
  { title: 'Pdf', additionalProperties: false },
);

export const Access = Type.Object({
  access: Type.Object({ url: Type.String({ description: 'signed link; no API key needed' }), expiresAt: Millis() }),
});

export const LinkBody = Type.Object(
  { expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LINK_TTL_SECONDS, description: `default ${DEFAULT_LINK_TTL_SECONDS}` })) },
  { additionalProperties: false },
);
