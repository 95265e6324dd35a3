import { PressCloud } from '@press-cloud/sdk';
import { CliError, EXIT } from '../errors.js';
import { Output } from '../output.js';
import { DEFAULT_API_BASE, readStoredConfig, writeStoredConfig } from '../user-config.js';

export interface LoginFlags {
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
  const stored = await readStoredConfig();
  const apiBase = flags.apiBase || process.env.PRESS_CLOUD_API || stored.apiBase || DEFAULT_API_BASE;
  const token = flags.token || (await readToken());
  if (!token) throw new CliError('no API key given (pass --token or type/pipe it on stdin)', 'missing_authorization', EXIT.auth);
  // Checked before it is stored: a typo fails here with exit 3, not at the next command.
  const { account } = await new PressCloud({ apiBase, token }).account.get();
  const path = await writeStoredConfig({ apiBase, token });
  new Output({ json: !!flags.json }).result(`logged in to ${apiBase} as ${account.name} (${account.id}); key stored in ${path}`, {
    apiBase, account: { id: account.id, name: account.name }, configPath: path,
  });
}
