import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createAccount, findAccount, issueApiKey, listAccounts, listApiKeys, setAccountDisabled, updateApiKey } from '../domain/accounts.js';
import type { Caller, DomainDeps } from '../domain/context.js';
import { OPERATOR_KEY_ID } from '../domain/audit.js';
import { AppError } from '../domain/errors.js';
import { isPlanKey } from '../domain/policy.js';
import { createUser, resetPassword } from '../domain/users.js';
import { addMemberAsOperator } from '../domain/workspaces.js';
import { MEMBER_ROLES, type MemberRole } from '../model/people.js';
import { createDomainDeps } from '../start/compose.js';
import { startServer } from '../start/server.js';
import { decideSandbox } from '@press-cloud/engine';
import { PACKAGE_VERSION } from '../version.js';

const ENV_HELP = `Environment:
  PORT (8787)  HOST (127.0.0.1)  PRESS_DATA_DIR (./.press-data)  LOG_LEVEL (info)  LOG_FORMAT (pretty on a terminal, else json)
  PRESS_SECRET_KEY  PRESS_DEFAULT_PLAN (unlimited)  PRESS_PUBLIC_URL  PRESS_WEBHOOK_ALLOW_PRIVATE (false)
  PRESS_RATE_LIMIT_PER_MINUTE (off)  PRESS_SWEEP_INTERVAL_SECONDS (60)  DATABASE_URL, S3_* (see docs/deploy.md)
  PRESS_SMTP_URL (off)  PRESS_SMTP_FROM  PRESS_PASSWORD_HASH_COST (17)`;

/** Help of each command, shown by `press-cloud <command> --help` (and the overview by `press-cloud --help`). */
const HELP: Record<string, string> = {
  '': `press-cloud ${PACKAGE_VERSION} — the Press Cloud server and its operator commands

Usage:
  press-cloud serve [--role all|api|worker]       start the server
  press-cloud accounts list [--json]
  press-cloud accounts create <name> [--plan <plan>]
  press-cloud accounts set-plan <account> <plan>
  press-cloud accounts disable <account>
  press-cloud accounts enable <account>
  press-cloud keys create --account <account> [--role admin|editor|viewer] [--name <label>]
  press-cloud keys list --account <account>
  press-cloud keys disable <key-id> --account <account>
  press-cloud keys enable <key-id> --account <account>
  press-cloud users create --email <e-mail> [--name <name>] [--workspace <account> [--role <role>]] [--password-stdin]
  press-cloud users reset-password --email <e-mail> [--password-stdin]
  press-cloud migrate-store [--from-data-dir <dir>] [--force] [--dry-run]
  press-cloud --version | --help | <command> --help

<account> is an account id (acct_…) or name; <plan> is unlimited, free, starter or pro.

${ENV_HELP}
See README.md and docs/deploy.md for details.`,
  serve: `Usage: press-cloud serve [--role all|api|worker]

Starts the server on HOST:PORT. --role (or PRESS_ROLE): all = the /v1 API and the render worker (default),
api = the /v1 API only, worker = renders only (with /healthz, /readyz and /metrics). The first start on an
empty store creates the account "default" and prints its admin API key once.

${ENV_HELP}`,
  accounts: `Usage:
  press-cloud accounts list [--json]                                      every account (workspace)
  press-cloud accounts create <name> [--plan unlimited|free|starter|pro]   create an account; prints its id
  press-cloud accounts set-plan <account> <plan>                          change an account's plan
  press-cloud accounts disable <account>                                  refuse its keys and sessions, hold its jobs
  press-cloud accounts enable <account>                                   undo disable`,
  'accounts list': `Usage: press-cloud accounts list [--json]

Lists every account (workspace), newest first: id, name, plan, created, disabled (when, or -). --json prints an
array of {id, name, plan, personalUserId, createdAt, disabledAt} (times in ms since the epoch, as the API gives them).`,
  'accounts disable': `Usage: press-cloud accounts disable <account>

Disables the account (id or name): every request with one of its API keys, or a session acting in it, is refused
with 403 account_disabled. Its queued render jobs stay queued and are not rendered until it is enabled again; jobs
already rendering finish. Nothing is deleted.`,
  'accounts enable': `Usage: press-cloud accounts enable <account>

Enables a disabled account (id or name) again: its keys and sessions work, and its queued render jobs render.`,
  'accounts create': `Usage: press-cloud accounts create <name> [--plan unlimited|free|starter|pro]

Creates an account (default plan: PRESS_DEFAULT_PLAN, else unlimited) and prints its id.`,
  'accounts set-plan': `Usage: press-cloud accounts set-plan <account> <plan>

Moves the account (id or name) to the plan (unlimited, free, starter, pro); limits apply from the next request.`,
  keys: `Usage:
  press-cloud keys create --account <account> [--role admin|editor|viewer] [--name <label>]   prints only the key
  press-cloud keys list --account <account>                                                  the account's keys
  press-cloud keys disable <key-id> --account <account>                                      the key stops working
  press-cloud keys enable <key-id> --account <account>                                       it works again`,
  'keys create': `Usage: press-cloud keys create --account <account> [--role admin|editor|viewer] [--name <label>]

Creates an API key for the account (id or name) and prints only the key (pcak_…): it is stored hashed and cannot
be shown again.`,
  'keys list': `Usage: press-cloud keys list --account <account>

Lists the account's API keys: id, prefix, role, name, created, last used, disabled.`,
  'keys disable': `Usage: press-cloud keys disable <key-id> --account <account>

Disables the API key (key_…): requests with it fail with 403 api_key_disabled.`,
  'keys enable': `Usage: press-cloud keys enable <key-id> --account <account>

Enables a disabled API key (key_…) again.`,
  users: `Usage:
  press-cloud users create --email <e-mail> [--name <name>] [--workspace <account> [--role <role>]] [--password-stdin]
  press-cloud users reset-password --email <e-mail> [--password-stdin]`,
  'users create': `Usage: press-cloud users create --email <e-mail> [--name <name>] [--workspace <account> [--role <role>]] [--password-stdin]

Creates a user with their personal workspace and prints the user id. With --workspace the user also joins that
account: as owner by default (for an account without owner, e.g. one made before users existed: its keys become
the owner's), or with --role admin|editor|viewer. The password is read from stdin with --password-stdin; otherwise
one is generated and printed once on stderr.`,
  'users reset-password': `Usage: press-cloud users reset-password --email <e-mail> [--password-stdin]

Sets a new password (read from stdin, or generated and printed once on stderr) and ends every session of the user.`,
  'migrate-store': `Usage: press-cloud migrate-store [--from-data-dir <dir>] [--force] [--dry-run]

Copies the embedded store (SQLite + disk under the data dir) to DATABASE_URL + S3_* (see docs/deploy.md).`,
};

class UsageError extends Error {}

function commandKey(argv: string[]): string {
  const [cmd, sub] = argv;
  if (cmd && sub && HELP[`${cmd} ${sub}`]) return `${cmd} ${sub}`;
  return cmd && HELP[cmd] ? cmd : '';
}

async function serve(args: string[]) {
  const { values } = parseArgs({ args, options: { role: { type: 'string', default: process.env.PRESS_ROLE || 'all' } } });
  const role = values.role!;
  if (role !== 'all' && role !== 'api' && role !== 'worker') throw new UsageError('--role must be all, api or worker.');
  const config = loadConfig();
  let server;
  try {
    server = await startServer(config, { role, renderProcess: config.renderIsolation === 'process' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      const why = e.code === 'EADDRINUSE' ? 'is already in use (another press-cloud?)' : 'may not be used by this user';
      process.stderr.write(`press-cloud: port ${config.port} on ${config.host} ${why}; set PORT to another port.\n`);
      process.exit(1);
    }
    throw err;
  }
  const base = config.publicUrl ?? server.url;
  if (server.bootstrapKey) {
    // Printed once, on the first start of an empty data directory: the key is stored hashed and cannot be shown again.
    process.stderr.write(
      `\nPress Cloud ${PACKAGE_VERSION} is ready at ${base} (data in ${config.dataDir}).\n` +
      `Created account "default" and its admin API key (shown only this once):\n\n` +
      `  export PRESS_CLOUD_API=${base}\n  export PRESS_CLOUD_TOKEN=${server.bootstrapKey}\n\n` +
      `First request:\n  curl -s $PRESS_CLOUD_API/v1/account -H "Authorization: Bearer $PRESS_CLOUD_TOKEN"\n\n` +
      `First PDF (deploys examples/invoice with curl, renders it, saves invoice.pdf):\n  bash examples/render-invoice.sh invoice.pdf\n\n` +
      `API docs: ${base}/docs   OpenAPI: ${base}/v1/openapi.json\n\n`,
    );
  } else if (role === 'worker') {
    process.stderr.write(`\nPress Cloud ${PACKAGE_VERSION} render worker is running; /healthz, /readyz and /metrics at ${server.url}\n\n`);
  } else {
    process.stderr.write(`\nPress Cloud ${PACKAGE_VERSION} (${role}) is ready at ${base} (data in ${config.dataDir}). API docs: ${base}/docs\n` +
      `Need a key? press-cloud keys create --account default --role admin\n\n`);
  }
  if (server.setupUrl) {
    // Printed on every start until the first user exists; each link works once and for 24 hours.
    process.stderr.write(
      `Finish setup: open this one-time link to create the first user (owner of "default"):\n\n  ${server.setupUrl}\n\n` +
      `Headless: POST ${base}/v1/setup {"token": "<the part after #token=>", "email": …, "password": …},\n` +
      `or: press-cloud users create --email you@example.com --workspace default\n\n`,
    );
  }
  if (role !== 'api') {
    const sandbox = decideSandbox(config.chromiumSandbox, config.chromiumSandboxUser);
    const where = role === 'all' && config.renderIsolation === 'process' ? 'in a supervised render process' : 'in this process';
    process.stderr.write(
      sandbox.enabled
        ? `Renders: ${where}; Chromium sandbox: on, as ${sandbox.user} (${sandbox.reason}); docs/security-model.md\n`
        : // Loud: a renderer exploit runs as the server's user with its file system.
          `\n*** Chromium sandbox: OFF (${sandbox.reason}). Chromium runs as ${sandbox.user} with --no-sandbox: a page that ` +
          `exploits the renderer runs with this server's rights. Renders: ${where}; pages confined only by the ` +
          `${sandbox.confinedBy} (docs/security-model.md) ***\n\n`,
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Runs an operator command against the configured store, closing it afterwards. */
async function withDeps<T>(fn: (deps: DomainDeps) => Promise<T>): Promise<T> {
  const deps = await createDomainDeps(loadConfig());
  try {
    return await fn(deps);
  } finally {
    await deps.db.close();
  }
}

async function accountOf(deps: DomainDeps, idOrName: string | undefined, usage: string) {
  if (!idOrName) throw new UsageError(`${usage}`);
  const account = await findAccount(deps, idOrName);
  if (!account) throw new UsageError(`No account "${idOrName}".`);
  return account;
}

/** The operator acts as an admin of the account it names. */
const operator = (accountId: string): Caller => ({ accountId, keyId: OPERATOR_KEY_ID, role: 'admin' });

async function accountsCreate(args: string[]) {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { plan: { type: 'string' } } });
  const name = positionals[0];
  if (!name) throw new UsageError('accounts create needs a name: press-cloud accounts create <name> [--plan free]');
  if (values.plan !== undefined && !isPlanKey(values.plan)) throw new UsageError(`--plan must be one of unlimited, free, starter, pro.`);
  await withDeps(async (deps) => {
    const account = await createAccount(deps, { name, planKey: values.plan as never });
    process.stdout.write(`${account.id}\n`);
  });
}

async function accountsSetPlan(args: string[]) {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [idOrName, plan] = positionals;
  if (!plan) throw new UsageError('accounts set-plan needs an account and a plan: press-cloud accounts set-plan <account> <plan>');
  if (!isPlanKey(plan)) throw new UsageError('the plan must be one of unlimited, free, starter, pro.');
  await withDeps(async (deps) => {
    const account = await accountOf(deps, idOrName, 'accounts set-plan needs an account');
    await deps.db.accounts.update(account.id, { planKey: plan });
    process.stdout.write(`${account.name} (${account.id}): plan ${account.planKey} → ${plan}\n`);
  });
}

/** Prints rows as a table: columns padded to their widest cell, the first row the header. */
function printTable(rows: string[][]) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n') + '\n');
}

async function accountsList(args: string[]) {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  await withDeps(async (deps) => {
    const all = [];
    let cursor: string | undefined;
    do {
      const page = await listAccounts(deps, { cursor, limit: 100 });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (values.json) {
      const json = all.map((a) => ({ id: a.id, name: a.name, plan: a.planKey, personalUserId: a.personalUserId ?? null, createdAt: a.createdAt, disabledAt: a.disabledAt ?? null }));
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      return;
    }
    printTable([['ID', 'NAME', 'PLAN', 'CREATED', 'DISABLED'], ...all.map((a) => [a.id, a.name, a.planKey, when(a.createdAt), when(a.disabledAt)])]);
  });
}

/** `accounts disable` / `accounts enable` */
function accountsSetDisabled(disabled: boolean) {
  const verb = disabled ? 'disable' : 'enable';
  return async (args: string[]) => {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    await withDeps(async (deps) => {
      const account = await accountOf(deps, positionals[0], `accounts ${verb} needs an account: press-cloud accounts ${verb} <account>`);
      const was = account.disabledAt != null;
      await setAccountDisabled(deps, account.id, disabled);
      process.stdout.write(`${account.name} (${account.id}): ${was === disabled ? `already ${verb}d` : `${verb}d`}\n`);
    });
  };
}

async function keysCreate(args: string[]) {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, role: { type: 'string', default: 'admin' }, name: { type: 'string' } } });
  const role = values.role!;
  if (role !== 'admin' && role !== 'editor' && role !== 'viewer') throw new UsageError('--role must be admin, editor or viewer.');
  await withDeps(async (deps) => {
    const account = await accountOf(deps, values.account, 'keys create needs --account <id|name>');
    const { key } = await issueApiKey(deps, account.id, { name: values.name ?? `${role} key`, role });
    process.stdout.write(`${key}\n`);
  });
}

const when = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : '-');

async function keysList(args: string[]) {
  const { values } = parseArgs({ args, options: { account: { type: 'string' } } });
  await withDeps(async (deps) => {
    const account = await accountOf(deps, values.account, 'keys list needs --account <id|name>');
    const rows = [['ID', 'PREFIX', 'ROLE', 'NAME', 'CREATED', 'LAST USED', 'DISABLED']];
    let cursor: string | undefined;
    do {
      const page = await listApiKeys(deps, operator(account.id), { cursor, limit: 100 });
      for (const k of page.items) rows.push([k.id, k.prefix, k.role, k.name, when(k.createdAt), when(k.lastUsedAt), when(k.disabledAt)]);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    printTable(rows);
  });
}

/** `keys disable` / `keys enable`: the key stops working, or works again. */
function keysSetDisabled(disabled: boolean) {
  const verb = disabled ? 'disable' : 'enable';
  return async (args: string[]) => {
    const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { account: { type: 'string' } } });
    const keyId = positionals[0];
    if (!keyId) throw new UsageError(`keys ${verb} needs a key id: press-cloud keys ${verb} <key-id> --account <account>`);
    await withDeps(async (deps) => {
      const account = await accountOf(deps, values.account, `keys ${verb} needs --account <id|name>`);
      await updateApiKey(deps, operator(account.id), keyId, { disabled });
      process.stdout.write(`${verb}d ${keyId}\n`);
    });
  };
}

/** A password from stdin (--password-stdin), else a generated one that is printed once. */
async function passwordInput(fromStdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: randomBytes(18).toString('base64url'), generated: true };
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return { password: Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, ''), generated: false };
}

async function usersCreate(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, name: { type: 'string' }, workspace: { type: 'string' }, role: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  });
  if (!values.email) throw new UsageError('users create needs --email <e-mail>');
  const role = values.role ?? 'owner';
  if (!(MEMBER_ROLES as readonly string[]).includes(role)) throw new UsageError('--role must be owner, admin, editor or viewer.');
  if (values.role && !values.workspace) throw new UsageError('--role needs --workspace.');
  const { password, generated } = await passwordInput(values['password-stdin']);
  await withDeps(async (deps) => {
    const account = values.workspace ? await accountOf(deps, values.workspace, '') : null;
    const { user } = await createUser(deps, { email: values.email!, password, name: values.name });
    if (account) await addMemberAsOperator(deps, account.id, user.id, role as MemberRole);
    process.stdout.write(`${user.id}\n`);
    if (generated) process.stderr.write(`Password for ${user.email} (shown only this once): ${password}\n`);
  });
}

async function usersResetPassword(args: string[]) {
  const { values } = parseArgs({ args, options: { email: { type: 'string' }, 'password-stdin': { type: 'boolean' } } });
  if (!values.email) throw new UsageError('users reset-password needs --email <e-mail>');
  const { password, generated } = await passwordInput(values['password-stdin']);
  await withDeps(async (deps) => {
    const user = await resetPassword(deps, values.email!, password);
    process.stderr.write(`Password of ${user.email} reset; every session of the user has ended.\n`);
    if (generated) process.stderr.write(`New password (shown only this once): ${password}\n`);
  });
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  serve,
  'accounts create': accountsCreate,
  'accounts list': accountsList,
  'accounts set-plan': accountsSetPlan,
  'accounts disable': accountsSetDisabled(true),
  'accounts enable': accountsSetDisabled(false),
  'keys create': keysCreate,
  'keys list': keysList,
  'keys disable': keysSetDisabled(true),
  'keys enable': keysSetDisabled(false),
  'users create': usersCreate,
  'users reset-password': usersResetPassword,
  // loaded on demand: it pulls in the PostgreSQL and S3 adapters, which `serve` loads only when configured
  'migrate-store': async (args) => (await import('./migrate-store.js')).migrateStoreCommand(args, () => loadConfig()),
};

export async function main(argv: string[]) {
  try {
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v' || argv[0] === '-V')) {
      process.stdout.write(`${PACKAGE_VERSION}\n`);
      return;
    }
    if (argv.length === 0 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
      const key = commandKey(argv[0] === 'help' ? argv.slice(1) : argv);
      process.stdout.write(`${HELP[key]}\n`);
      return;
    }
    const [cmd, sub] = argv;
    const run = COMMANDS[`${cmd} ${sub}`] ?? COMMANDS[cmd];
    if (!run) {
      const key = commandKey(argv);
      throw new UsageError(key ? `Unknown command "${argv.join(' ')}".\n${HELP[key]}` : `Unknown command "${argv.join(' ')}".`);
    }
    return await run(argv.slice(COMMANDS[`${cmd} ${sub}`] ? 2 : 1));
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof AppError || (err as Error)?.name === 'MigrateStoreError' || (err as Error)?.name === 'SqliteDriverError') {
      process.stderr.write(`press-cloud: ${(err as Error).message}\n`);
      if (err instanceof UsageError) process.stderr.write(`Run "press-cloud --help" for usage.\n`);
      process.exit(2);
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`press-cloud: ${(err as Error).message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
