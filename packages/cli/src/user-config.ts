/**
 * Where `press login` keeps credentials: `$XDG_CONFIG_HOME/press-cloud/config.json`, else
 * `~/.config/press-cloud/config.json`, mode 0600 in a 0700 directory. One profile per server or account:
 * `{"profiles": {"default": {apiBase, token}, "staging": {…}}}`, chosen by `--profile` or PRESS_PROFILE.
 * (A file of the 0.1 layout, `{apiBase, token}`, is read as the `default` profile and rewritten on the next login.)
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PressCloud } from '@press-cloud/sdk';
import { CliError, EXIT, usageError } from './errors.js';

export interface StoredLogin {
  apiBase?: string;
  token?: string;
}

export interface StoredConfig {
  profiles: Record<string, StoredLogin>;
}

export const DEFAULT_API_BASE = 'http://127.0.0.1:8787';
export const DEFAULT_PROFILE = 'default';
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ProfileFlags {
  profile?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'press-cloud', 'config.json');
}

/** The profile in use: `--profile`, else PRESS_PROFILE, else `default`. */
export function profileName(flags: ProfileFlags, env: NodeJS.ProcessEnv = process.env): { name: string; from: string } {
  const [name, from] = flags.profile ? [flags.profile, '--profile'] : env.PRESS_PROFILE ? [env.PRESS_PROFILE, 'PRESS_PROFILE'] : [DEFAULT_PROFILE, 'default'];
  if (!PROFILE_NAME.test(name)) throw usageError(`${from} ${JSON.stringify(name)}: a profile name is letters, digits, ".", "_" and "-"`, 'invalid_profile');
  return { name, from };
}

export async function readStoredConfig(env: NodeJS.ProcessEnv = process.env): Promise<StoredConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(configPath(env), 'utf8'));
  } catch {
    return { profiles: {} };
  }
  if (typeof parsed !== 'object' || parsed === null) return { profiles: {} };
  const p = parsed as { profiles?: unknown; apiBase?: string; token?: string };
  if (typeof p.profiles === 'object' && p.profiles !== null) return { profiles: p.profiles as Record<string, StoredLogin> };
  return { profiles: p.token || p.apiBase ? { [DEFAULT_PROFILE]: { apiBase: p.apiBase, token: p.token } } : {} };
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
  /** where the key came from, for messages: "--token", "PRESS_CLOUD_TOKEN", "the stored login (profile …)" */
  tokenSource: string;
  apiBaseSource: string;
  profile: string;
}

/** `--api-base`/`--token`, else PRESS_CLOUD_API/PRESS_CLOUD_TOKEN, else the profile's stored login, else the local default. */
export async function resolveCredentials(
  flags: { apiBase?: string; token?: string } & ProfileFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials> {
  const profile = profileName(flags, env);
  const stored = (await readStoredConfig(env)).profiles[profile.name] ?? {};
  const login = `the stored login of profile "${profile.name}" (${configPath(env)})`;
  const pick = (flag: string | undefined, flagName: string, envName: string, fromStore: string | undefined): [string | undefined, string] =>
    flag ? [flag, flagName] : env[envName] ? [env[envName], envName] : fromStore ? [fromStore, login] : [undefined, 'none'];
  const [token, tokenSource] = pick(flags.token, '--token', 'PRESS_CLOUD_TOKEN', stored.token);
  const [apiBase, apiBaseSource] = pick(flags.apiBase, '--api-base', 'PRESS_CLOUD_API', stored.apiBase);
  if (flags.profile && !stored.token && !flags.token && !env.PRESS_CLOUD_TOKEN) {
    throw new CliError(`no login stored for profile "${profile.name}": run press login --profile ${profile.name}`, 'missing_authorization', EXIT.auth);
  }
  return { apiBase: apiBase ?? DEFAULT_API_BASE, apiBaseSource: apiBase ? apiBaseSource : 'the default', token, tokenSource, profile: profile.name };
}

/** The credentials in use by the last `clientFrom`, so a 401 can say which source supplied the key. */
export let activeCredentials: Credentials | null = null;

/** An SDK client from the flags/environment/login; fails with exit 3 when there is no API key at all. */
export async function clientFrom(flags: { apiBase?: string; token?: string } & ProfileFlags): Promise<PressCloud> {
  const creds = await resolveCredentials(flags);
  if (!creds.token) {
    throw new CliError('no API key: run `press login`, set PRESS_CLOUD_TOKEN or pass --token', 'missing_authorization', EXIT.auth);
  }
  activeCredentials = creds;
  return new PressCloud({ apiBase: creds.apiBase, token: creds.token });
}
