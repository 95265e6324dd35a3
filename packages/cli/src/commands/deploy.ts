import { resolve } from 'node:path';
import { byId, usageError } from '../errors.js';
import { deployProgress, formatBytes, Output } from '../output.js';
import { findConfigUpwards, loadProject, projectExclusions } from '../project.js';
import { clientFrom, type ProfileFlags } from '../user-config.js';

/**
 * What `press deploy <dir>` leaves out besides hidden files (`.dev.vars`, `.git`…) and node_modules: any
 * press.toml, and the payload files and outputs of the press.toml that governs the directory.
 */
export function deployExclusions(dir: string): (path: string) => boolean {
  const configPath = findConfigUpwards(dir);
  const paths: string[] = [];
  if (configPath) {
    const project = loadProject(configPath);
    for (const e of project.entries) {
      const workspace = resolve(project.root, e.workspace);
      if (e.payloadPath) paths.push(resolve(workspace, e.payloadPath));
      paths.push(resolve(workspace, e.output));
    }
  }
  return projectExclusions(dir, paths);
}

export interface DeployFlags extends ProfileFlags {
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
  const abs = resolve(dir);
  const exclude = deployExclusions(abs);
  const target = flags.deployId ? { deployId: flags.deployId } : { slug: flags.slug!, name: flags.name ?? flags.slug! };
  if (flags.deployId) await byId('deploy', 'deploy_not_found', flags.deployId, () => client.deploys.get(flags.deployId!));
  const r = await client.deployDirectory(abs, { ...target, exclude, aliases: flags.alias?.length ? flags.alias : undefined, onProgress: deployProgress(out) });
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
