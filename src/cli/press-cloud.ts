import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createAccount, findAccount, issueApiKey } from '../domain/accounts.js';
import { AppError } from '../domain/errors.js';
import { isPlanKey } from '../domain/policy.js';
import { createDomainDeps } from '../start/compose.js';
import { startServer } from '../start/server.js';

const HELP = `press-cloud — the Press Cloud server and its operator commands

Usage:
  press-cloud serve [--role all|api|worker]  start the server: all = API + render worker (default),
                                             api = the /v1 API only, worker = renders only (ops endpoints)
  press-cloud accounts create <name> [--plan unlimited|free|starter|pro]
                                             create an account; prints its id
  press-cloud keys create --account <id|name> [--role admin|editor|viewer] [--name <label>]
                                             create an API key; prints only the key
  press-cloud migrate-store [--from-data-dir <dir>] [--force] [--dry-run]
                                             copy the embedded store (SQLite + disk) to DATABASE_URL + S3_*

Environment:
  PORT (8787)  HOST (127.0.0.1)  PRESS_DATA_DIR (./.press-data)  LOG_LEVEL (info)
  PRESS_SECRET_KEY  PRESS_DEFAULT_PLAN (unlimited)  PRESS_PUBLIC_URL  PRESS_WEBHOOK_ALLOW_PRIVATE (false)
  PRESS_RATE_LIMIT_PER_MINUTE (off)  PRESS_SWEEP_INTERVAL_SECONDS (60)
See README.md for details.`;

async function serve(args: string[]) {
  const { values } = parseArgs({ args, options: { role: { type: 'string', default: process.env.PRESS_ROLE || 'all' } } });
  const role = values.role!;
  if (role !== 'all' && role !== 'api' && role !== 'worker') throw new UsageError('--role must be all, api or worker.');
  const config = loadConfig();
  const server = await startServer(config, { role });
  const base = config.publicUrl ?? server.url;
  if (server.bootstrapKey) {
    // Printed once, on the first start of an empty data directory: the key is stored hashed and cannot be shown again.
    process.stderr.write(
      `\nPress Cloud is ready at ${base} (data in ${config.dataDir}).\n` +
      `Created account "default" and its admin API key (shown only this once):\n\n` +
      `  export PRESS_CLOUD_API=${base}\n  export PRESS_CLOUD_TOKEN=${server.bootstrapKey}\n\n` +
      `First request:\n  curl -s $PRESS_CLOUD_API/v1/account -H "Authorization: Bearer $PRESS_CLOUD_TOKEN"\n\n` +
      `First PDF (deploys examples/invoice with curl, renders it, saves invoice.pdf):\n  bash examples/render-invoice.sh invoice.pdf\n\n` +
      `API docs: ${base}/docs   OpenAPI: ${base}/v1/openapi.json\n\n`,
    );
  } else if (role === 'worker') {
    process.stderr.write(`\nPress Cloud render worker is running; /healthz, /readyz and /metrics at ${server.url}\n\n`);
  } else {
    process.stderr.write(`\nPress Cloud (${role}) is ready at ${base} (data in ${config.dataDir}). API docs: ${base}/docs\n` +
      `Need a key? press-cloud keys create --account default --role admin\n\n`);
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

async function accountsCreate(args: string[]) {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { plan: { type: 'string' } } });
  const name = positionals[0];
  if (!name) throw new UsageError('accounts create needs a name: press-cloud accounts create <name> [--plan free]');
  if (values.plan !== undefined && !isPlanKey(values.plan)) throw new UsageError(`--plan must be one of unlimited, free, starter, pro.`);
  const deps = await createDomainDeps(loadConfig());
  try {
    const account = await createAccount(deps, { name, planKey: values.plan as never });
    process.stdout.write(`${account.id}\n`);
  } finally {
    await deps.db.close();
  }
}

async function keysCreate(args: string[]) {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, role: { type: 'string', default: 'admin' }, name: { type: 'string' } } });
  if (!values.account) throw new UsageError('keys create needs --account <id|name>');
  const role = values.role!;
  if (role !== 'admin' && role !== 'editor' && role !== 'viewer') throw new UsageError('--role must be admin, editor or viewer.');
  const deps = await createDomainDeps(loadConfig());
  try {
    const account = await findAccount(deps, values.account);
    if (!account) throw new UsageError(`No account "${values.account}".`);
    const { key } = await issueApiKey(deps, account.id, { name: values.name ?? `${role} key`, role });
    process.stdout.write(`${key}\n`);
  } finally {
    await deps.db.close();
  }
}

class UsageError extends Error {}

export async function main(argv: string[]) {
  const [cmd, sub, ...rest] = argv;
  try {
    if (cmd === 'serve') return await serve(argv.slice(1));
    if (cmd === 'accounts' && sub === 'create') return await accountsCreate(rest);
    if (cmd === 'keys' && sub === 'create') return await keysCreate(rest);
    // loaded on demand: it pulls in the PostgreSQL and S3 adapters, which `serve` loads only when configured
    if (cmd === 'migrate-store') return await (await import('./migrate-store.js')).migrateStoreCommand(argv.slice(1), () => loadConfig());
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(`${HELP}\n`);
      return;
    }
    throw new UsageError(`Unknown command "${argv.join(' ')}".`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof AppError || (err as Error)?.name === 'MigrateStoreError') {
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
