import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { deployProgress, formatBytes, Output } from '../output.js';
import { clientFrom } from '../user-config.js';

export interface DeployFlags {
  slug?: string;
  deployId?: string;
  name?: string;
  alias?: string[];
  token?: string;
  apiBase?: string;
  json?: boolean;
  timingDetail?: boolean;
}

export async function deployCommand(dir: string, flags: DeployFlags): Promise<void> {
  if (!flags.slug === !flags.deployId) throw usageError('press deploy needs --slug <slug> (created when new) or --deploy-id <id>', 'target_required');
  const out = new Output({ json: !!flags.json });
  const client = await clientFrom(flags);
  const target = flags.deployId ? { deployId: flags.deployId } : { slug: flags.slug!, name: flags.name ?? flags.slug! };
  const r = await client.deployDirectory(resolve(dir), { ...target, aliases: flags.alias?.length ? flags.alias : undefined, onProgress: deployProgress(out) });
  out.result(
    [
      `deployed ${dir} → deploy ${r.deployId}${r.deployCreated ? ' (created)' : ''}, version ${r.deployVersion.id}`,
      `  ${r.files} files (${formatBytes(r.bytes)}); uploaded ${r.uploadedFiles} (${formatBytes(r.uploadedBytes)})` +
        (flags.alias?.length ? `; aliases: ${flags.alias.join(', ')}` : ''),
    ],
    {
      deployId: r.deployId, deployCreated: r.deployCreated, deployVersion: r.deployVersion, files: r.files, bytes: r.bytes,
      uploadedFiles: r.uploadedFiles, uploadedBytes: r.uploadedBytes, aliases: flags.alias ?? [], timings: r.timings,
    },
  );
  if (flags.timingDetail) out.timings([['hash', r.timings.hashMs], ['upload', r.timings.uploadMs]]);
}
