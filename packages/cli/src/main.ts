import { Command, CommanderError, Option } from 'commander';
import { deployCommand } from './commands/deploy.js';
import { loginCommand } from './commands/login.js';
import { renderCommand } from './commands/render.js';
import { jobs, pdfs, usageCommand } from './commands/resources.js';
import { describeFailure, EXIT, EXIT_CODES_HELP } from './errors.js';
import { configPath } from './user-config.js';

const VERSION = '0.1.0';

const ENV_HELP = `Credentials (first found wins): --token/--api-base, PRESS_CLOUD_TOKEN/PRESS_CLOUD_API,
the key stored by \`press login\` (${configPath()}), else API base http://127.0.0.1:8787.`;

const START_HELP = `Getting started:
  press login                                  # stores the API key (read from stdin, never echoed)
  press deploy ./app --slug invoice --alias preview
  press render invoice --remote --out invoice.pdf

${ENV_HELP}

${EXIT_CODES_HELP}`;

const RENDER_HELP = `
press.toml (found in the working directory or its parents, or --config):
  workspace = "acme"               account id or name; --remote refuses a key of another account
  [runtime.env]                    NAME = "value" for every entry (pressCloud.env.get)
  [runtime.secrets]                NAME = "ENV_VAR": the secret's value is read from that environment
                                   variable, or from .dev.vars (KEY=VALUE lines) next to press.toml
  [pdf.<name>]                     one entry per document:
    dir = "."                        directory served locally / uploaded with --remote
    entry = "index.html"             the document inside dir
    output = "<name>.pdf"            where the PDF goes (--out overrides)
    payload_path = "payload.json"    payload: .json as JSON, other files as binary with their mime type
  [pdf.<name>.runtime.env] / [pdf.<name>.runtime.secrets]   merged over [runtime.*]

The only entry is chosen automatically; with several, name one (otherwise press lists them and exits 2).
Hidden files, node_modules, press.toml, the payload file and the output are never served or uploaded.

Locally the server's render engine runs on this machine (Chromium), with the payload, env and secrets served
at https://p.press.internal exactly as on Press Cloud. With --remote the directory is uploaded (only the blobs
the account lacks), rendered on the server, waited for and downloaded; [runtime.*] values are written to the
deploy's settings. Without --save-version a temporary deploy is used and deleted afterwards.

${EXIT_CODES_HELP}`;

function withApi(cmd: Command): Command {
  return cmd
    .option('--token <key>', 'API key (default: PRESS_CLOUD_TOKEN, then the stored login)')
    .option('--api-base <url>', 'API base URL (default: PRESS_CLOUD_API, then the stored login)')
    .option('--json', 'print the result as JSON on stdout (for scripts)');
}

export function buildProgram(): Command {
  const program = new Command('press')
    .description('Render Press.js documents locally or on Press Cloud; deploy apps; manage render jobs and PDFs.')
    .version(VERSION, '-V, --version')
    .addHelpText('after', `\n${START_HELP}`)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`press: ${text.replace(/^error: /, '').trim()} (usage_error)\n`),
    });

  withApi(
    program
      .command('render [entry]')
      .description('render a press.toml entry to PDF, locally (default) or on Press Cloud (--remote)')
      .option('--config <path>', 'press.toml to use (default: nearest in the working directory or its parents)')
      .option('--out <file>', 'where to write the PDF (default: the entry\'s output)')
      .option('--timeout <duration>', 'render time limit (local) or wait limit for the job (remote): 30s, 500ms, 2m', '60s')
      .option('--timing-detail', 'print each step\'s duration on stderr (hash, upload, queue, render, download)')
      .option('--remote', 'render on Press Cloud instead of this machine')
      .option('--save-version', 'with --remote: keep the uploaded version (in --deploy-id, --slug or a deploy named after the entry)')
      .addOption(new Option('--remote-output <mode>', 'with --remote: output mode of the job').choices(['transient', 'managed']).default('transient'))
      .option('--deploy-id <id>', 'with --save-version: the deploy to add the version to')
      .option('--slug <slug>', 'with --save-version: the deploy (by slug; created when new) to add the version to')
      .option('--name <name>', 'with --slug: the name of a deploy created for it')
      .option('--business-key <key>', 'with --remote: the job\'s business key (your reference)'),
  )
    .addHelpText('after', RENDER_HELP)
    .action((entry: string | undefined, flags) => renderCommand(entry, flags));

  withApi(
    program
      .command('deploy <dir>')
      .description('upload a directory as a new version of a deploy (only the files the server lacks)')
      .option('--slug <slug>', 'the deploy, by slug (created when new)')
      .option('--deploy-id <id>', 'the deploy, by id')
      .option('--name <name>', 'name of a deploy created for --slug (default: the slug)')
      .option('--alias <alias>', 'point this alias at the new version (preview, production or your own; repeatable)', (v: string, all: string[] = []) => [...all, v])
      .option('--timing-detail', 'print the hash and upload durations on stderr'),
  ).action((dir: string, flags) => deployCommand(dir, flags));

  const jobsCmd = program.command('jobs').description('list, inspect and cancel render jobs');
  withApi(
    jobsCmd
      .command('list')
      .description('list render jobs, newest first')
      .option('--deploy-id <id>', 'only this deploy\'s jobs')
      .addOption(new Option('--status <status>', 'only jobs in this state').choices(['queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled']))
      .option('--business-key <key>', 'only jobs with this business key')
      .option('--limit <n>', '1–100 (default 20)')
      .option('--cursor <cursor>', 'the next page (printed at the end of a page)'),
  ).action((flags) => jobs.list(flags));
  withApi(jobsCmd.command('get <jobId>').description('show a render job').option('--wait <seconds>', 'wait up to N s (≤ 60) for the job to end'))
    .action((id: string, flags) => jobs.get(id, flags));
  withApi(jobsCmd.command('cancel <jobId>').description('cancel an unfinished render job')).action((id: string, flags) => jobs.cancel(id, flags));

  const pdfsCmd = program.command('pdfs').description('list, inspect, download and delete managed PDFs');
  withApi(
    pdfsCmd
      .command('list')
      .description('list managed PDFs, newest first')
      .option('--deploy-id <id>', 'only this deploy\'s PDFs')
      .option('--limit <n>', '1–100 (default 20)')
      .option('--cursor <cursor>', 'the next page'),
  ).action((flags) => pdfs.list(flags));
  withApi(pdfsCmd.command('get <pdfId>').description('show a managed PDF')).action((id: string, flags) => pdfs.get(id, flags));
  withApi(
    pdfsCmd
      .command('download <id>')
      .description('download a managed PDF (pdf_…) or a render job\'s output (rj_…)')
      .option('--out <file>', 'file to write (default: the PDF\'s file name)'),
  ).action((id: string, flags) => pdfs.download(id, flags));
  withApi(pdfsCmd.command('delete <pdfId>').description('delete a managed PDF')).action((id: string, flags) => pdfs.delete(id, flags));

  withApi(program.command('usage').description('show the plan, this period\'s usage and storage')).action((flags) => usageCommand(flags));

  withApi(
    program
      .command('login')
      .description(`check an API key and store it with the API base in ${configPath()} (mode 0600)`)
      .addHelpText('after', '\nThe key is read from --token, or from stdin: typed without echo on a terminal, or piped\n(echo "$KEY" | press login).'),
  ).action((flags) => loginCommand(flags));

  for (const cmd of [program, ...program.commands, jobsCmd, pdfsCmd, ...jobsCmd.commands, ...pdfsCmd.commands]) {
    cmd.exitOverride().configureOutput({
      outputError: (text, write) => write(`press: ${text.replace(/^error: /, '').trim()} (usage_error)\n`),
    });
  }
  return program;
}

/** Runs the CLI; resolves to the exit code (never calls process.exit, so output is flushed). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage; // commander already printed the problem (or the help, for a missing command)
    }
    const { message, code, exitCode } = describeFailure(err);
    // the code ends the first line; details (e.g. the list of entries) follow it
    const [head, ...rest] = message.split('\n');
    process.stderr.write(`press: ${head} (${code})\n${rest.map((l) => `${l}\n`).join('')}`);
    if (json) process.stdout.write(`${JSON.stringify({ error: code, message, exitCode })}\n`);
    return exitCode;
  }
}
