import { Type } from 'typebox';
import { Id, Millis, NullableMillis } from './common.js';


export const RenderJob = Type.Object(
  {
    id: Id('rj'), deployId: Id('dpl'), deployVersionId: Id('dv'),
    businessKey: Type.Union([Type.String(), Type.Null()]),
    entry: Type.String(),
    status: Type.String({ enum: ['queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled'] }),
    attempt: Type.Integer({ description: 'attempts started so far' }),
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
  { expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600, description: 'default 600' })) },
  { additionalProperties: false },
);
