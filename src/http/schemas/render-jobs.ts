import { Type } from 'typebox';
import { DEFAULT_LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS } from '../../domain/links.js';
import { RENDER_JOB_STATUSES } from '../../model/records.js';
import { Id, Millis, NullableMillis } from './common.js';


export const RenderJob = Type.Object(
  {
    id: Id('rj'), deployId: Id('dpl'), deployVersionId: Id('dv'),
    businessKey: Type.Union([Type.String(), Type.Null()]),
    entry: Type.String(),
    status: Type.String({ enum: [...RENDER_JOB_STATUSES] }),
    attempt: Type.Integer({ description: 'retries so far: 0 while the first attempt runs and after it succeeds, 1 during the first retry…' }),
    maxAttempts: Type.Integer(),
    outputMode: Type.String({ enum: ['transient', 'managed'] }),
    requestedAt: Millis(), startedAt: NullableMillis(), finishedAt: NullableMillis(),
    nextAttemptAt: NullableMillis('when a scheduled retry runs'),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
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
