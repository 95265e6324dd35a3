/**
 * Where `press login` keeps credentials: `$XDG_CONFIG_HOME/press-cloud/config.json`, else
 * `~/.config/press-cloud/config.json`, `{apiBase, token}`, mode 0600 in a 0700 directory.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PressCloud } from '@press-cloud/sdk';
import { CliError, EXIT } from './errors.js';

export interface StoredConfig {
  apiBase?: string;
  token?: string;
}

export const DEFAULT_API_BASE = 'http://127.0.0.1:8787';

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'press-cloud', 'config.json');
}

export async function readStoredConfig(env: NodeJS.ProcessEnv = process.env): Promise<StoredConfig> {
  try {
    const parsed = JSON.parse(await readFile(configPath(env), 'utf8')) as StoredConfig;
    return typeof parsed === 'object' && parsed ? parsed : {};
  } catch {
    return {};
  }
}

export async function writeStoredConfig(config: StoredConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  // created 0600 (never readable by others, even briefly), then renamed over the old file
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

export interface Credentials {
  apiBase: string;
  token: string | undefined;
}

/** `--api-base`/`--token`, else PRESS_CLOUD_API/PRESS_CLOUD_TOKEN, else the stored login, else the local default. */
export async function resolveCredentials(flags: { apiBase?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Promise<Credentials> {
  const stored = flags.apiBase && flags.token ? {} : await readStoredConfig(env);
  return {
    apiBase: flags.apiBase || env.PRESS_CLOUD_API || stored.apiBase || DEFAULT_API_BASE,
    token: flags.token || env.PRESS_CLOUD_TOKEN || stored.token,
  };
}

/** An SDK client from the flags/environment/login; fails with exit 3 when there is no API key at all. */
export async function clientFrom(flags: { apiBase?: string; token?: string }): Promise<PressCloud> {
  const { apiBase, token } = await resolveCredentials(flags);
  if (!token) {
    throw new CliError('no API key: run `press login`, set PRESS_CLOUD_TOKEN or pass --token', 'missing_authorization', EXIT.auth);
  }
  return new PressCloud({ apiBase, token });
}
