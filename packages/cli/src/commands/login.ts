import { PressCloud } from '@press-cloud/sdk';
import { CliError, EXIT } from '../errors.js';
import { Output } from '../output.js';
import {
  clientFrom,
  configPath,
  DEFAULT_API_BASE,
  profileName,
  readStoredConfig,
  resolveCredentials,
  writeStoredConfig,
  type ProfileFlags,
} from '../user-config.js';

export interface LoginFlags extends ProfileFlags {
  token?: string;
  apiBase?: string;
  json?: boolean;
}

/** The API key from a terminal (typed, not echoed) or from piped stdin. */
async function readToken(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) text += chunk;
    return text.trim();
  }
  process.stderr.write('Press Cloud API key (pcak_…): ');
  return new Promise((resolve, reject) => {
    let token = '';
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(token.trim());
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('canceled', 'canceled', EXIT.usage));
        if (ch === '\u007f' || ch === '\b') token = token.slice(0, -1);
        else token += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

export async function loginCommand(flags: LoginFlags): Promise<void> {
  const profile = profileName(flags).name;
  const config = await readStoredConfig();
  const stored = config.profiles[profile] ?? {};
  const apiBase = flags.apiBase || process.env.PRESS_CLOUD_API || stored.apiBase || DEFAULT_API_BASE;
  const token = flags.token || (await readToken());
  if (!token) throw new CliError('no API key given (pass --token or type/pipe it on stdin)', 'missing_authorization', EXIT.auth);
  // Checked before it is stored: a typo fails here with exit 3, not at the next command.
  const { account } = await new PressCloud({ apiBase, token }).account.get();
  config.profiles[profile] = { apiBase, token };
  const path = await writeStoredConfig(config);
  new Output({ json: !!flags.json }).result(`logged in to ${apiBase} as ${account.name} (${account.id}); key stored in ${path} (profile ${profile})`, {
    apiBase, profile, account: { id: account.id, name: account.name }, configPath: path,
  });
}

/** Forgets the profile's stored key (the key itself stays valid on the server: disable it there if it leaked). */
export async function logoutCommand(flags: ProfileFlags & { json?: boolean }): Promise<void> {
  const profile = profileName(flags).name;
  const config = await readStoredConfig();
  const had = config.profiles[profile]?.token !== undefined;
  delete config.profiles[profile];
  if (had) await writeStoredConfig(config);
  const note = process.env.PRESS_CLOUD_TOKEN ? '; PRESS_CLOUD_TOKEN is still set in this environment' : '';
  new Output({ json: !!flags.json }).result(
    had ? `logged out: removed the key of profile ${profile} from ${configPath()}${note}` : `not logged in (profile ${profile} has no stored key)${note}`,
    { profile, removed: had, configPath: configPath() },
  );
}

/** Who the current credentials are: account, key role, API base, and where each came from. */
export async function whoamiCommand(flags: LoginFlags): Promise<void> {
  const creds = await resolveCredentials(flags);
  const client = await clientFrom(flags);
  const { account } = await client.account.get();
  new Output({ json: !!flags.json }).result(
    [
      `${account.name} (${account.id}) on ${creds.apiBase}`,
      `  key from ${creds.tokenSource}; API base from ${creds.apiBaseSource}; profile ${creds.profile}`,
    ],
    { account: { id: account.id, name: account.name }, apiBase: creds.apiBase, profile: creds.profile, tokenSource: creds.tokenSource, apiBaseSource: creds.apiBaseSource },
  );
}
