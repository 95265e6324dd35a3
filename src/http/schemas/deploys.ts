import { Type } from 'typebox';
import { SLUG_PATTERN } from '../../domain/deploys.js';
import { MEDIA_TYPE_PATTERN } from '../../domain/media-type.js';
import { Id, Millis } from './common.js';

export const Slug = Type.String({ pattern: SLUG_PATTERN, maxLength: 63, description: 'lowercase letters, digits and "-", 1–63 chars' });
export const DeployName = Type.String({ minLength: 1, maxLength: 200 });

export const Deploy = Type.Object(
  { id: Id('dpl'), accountId: Id('acct'), slug: Type.String(), name: Type.String(), createdAt: Millis() },
  { title: 'Deploy', additionalProperties: false },
);

export const Alias = Type.Object(
  { name: Type.String(), deployId: Id('dpl'), deployVersionId: Id('dv'), updatedAt: Millis() },
  { title: 'Alias', additionalProperties: false },
);

export const DeployDetail = Type.Object(
  {
    id: Id('dpl'), accountId: Id('acct'), slug: Type.String(), name: Type.String(), createdAt: Millis(),
    latestVersionId: Type.Union([Id('dv'), Type.Null()], { description: 'newest committed version; null before the first commit' }),
    aliases: Type.Array(Alias),
  },
  { title: 'DeployDetail', additionalProperties: false },
);

export const DeployVersion = Type.Object(
  {
    id: Id('dv'), deployId: Id('dpl'), fileCount: Type.Integer(), bytes: Type.Integer(),
    uploadSessionId: Type.Union([Id('us'), Type.Null()]), createdAt: Millis(),
  },
  { title: 'DeployVersion', additionalProperties: false },
);

export const FileEntry = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1024, description: 'relative POSIX path, normalised, ≤ 512 bytes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: '64 lowercase hex characters' }),
    size: Type.Integer({ minimum: 0, description: 'bytes' }),
    mime: Type.String({ minLength: 1, maxLength: 255, pattern: MEDIA_TYPE_PATTERN, description: 'a media type (`type/subtype; name=value`), served as Content-Type when rendering' }),
  },
  { title: 'FileEntry', additionalProperties: false },
);
