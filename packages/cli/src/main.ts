import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { deployCommand } from './commands/deploy.js';
import { loginCommand, logoutCommand, whoamiCommand } from './commands/login.js';
import { DEFAULT_TIMEOUT_MS, renderCommand } from './commands/render.js';
import { jobs, pdfs, usageCommand } from './commands/resources.js';
import { completionScript } from './completion.js';
import { describeFailure, EXIT, EXIT_CODES_HELP } from './errors.js';
import { activeCredentials, configPath } from './user-config.js';

/** The package's version (dist/ and src/ both sit one level below package.json). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

const ENV_HELP = `Credentials (first found wins): --token/--api-base, PRESS_CLOUD_TOKEN/PRESS_CLOUD_API,
the key stored by \`press login\` in the profile (--profile, PRESS_PROFILE, else "default"; ${configPath()}),
else API base http://127.0.0.1:8787.`;

const START_HELP = `Getting started:
  press login                                  # stores the API key (read from stdin, never echoed)
  press whoami                                 # the account, and where the key came from
  press deploy ./app --slug invoice --alias preview
  press render invoice --remote --out invoice.pdf

${ENV_HELP}

${EXIT_CODES_HELP}`;

const RENDER_HELP = `
press.toml (found in the working directory or its parents, or --config), as Press.js documents it:
  workspace = "."                  base directory of every relative path (default: press.toml's folder)
  [playwright]                     print options of every entry (Playwright's page.pdf() names):
    format, landscape, margin = { top, right, bottom, left }, printBackground, scale,
    preferCSSPageSize, width, height, and timeout (per-page render limit in ms, default ${DEFAULT_TIMEOUT_MS})
  [runtime.env]                    NAME = "value" for every entry (pressCloud.env.get)
  [runtime.secrets]                NAME = "ENV_VAR": the secret's value is read from that environment variable
  [pdf.<name>]                     one entry per document:
    workspace = "."                  the entry's own base directory; its .dev.vars (KEY=VALUE lines) supplies
                                     environment variables, the process environment wins over it
    build = "npm run build"          run there (sh) before every render
    dir = "."                        directory served locally / uploaded with --remote
    entry = "index.html"             the document inside dir
    output = "<name>.pdf"            where the PDF goes (--out overrides)
    payload_path = "payload.json"    payload: .json as JSON, other files as binary with their mime type
    format = "Letter" …              any [playwright] key, for this entry
  [pdf.<name>.runtime.env] / [pdf.<name>.runtime.secrets]   merged over [runtime.*]
Unknown keys are refused with the file and line.

The only entry is chosen automatically; with several, name one (otherwise press lists them and exits 2).
Hidden files (.dev.vars, .git…), node_modules, press.toml, the payload file and the output are never served
or uploaded.

Locally the server's render engine (@press-cloud/engine) runs on this machine (Chromium), with the payload,
env and secrets served at https://p.press.internal exactly as on Press Cloud; --watch renders again on every
change. With --remote the directory is uploaded (only the blobs the account lacks), rendered on the server,
waited for (its render limit --timeout, at most the plan's, plus 15 s) and downloaded:
  no --deploy-id/--slug/--save-version   a temporary deploy, deleted afterwards, gets press.toml's [runtime]
  --deploy-id <id> | --slug <slug>       that deploy (--slug creates it, named --name, when new); an existing
                                         deploy renders with its own env and secrets, never overwritten
  --save-version                         keeps the version (without it, a version uploaded to an existing
                                         deploy is left unaliased); alone, in a deploy named after the entry
The [playwright] print options go with the render job (pdfOptions): the server prints as a local render does.

${EXIT_CODES_HELP}`;

function withApi(cmd: Command): Command {
  return cmd
    .option('--token <key>', 'API key (default: PRESS_CLOUD_TOKEN, then the stored login)')
    .option('--api-base <url>', 'API base URL (default: PRESS_CLOUD_API, then the stored login)')
    .option('--profile <name>', 'the stored login to use (default: PRESS_PROFILE, else "default")')
    .option('--json', 'print the result as JSON on stdout (for scripts)');
}

export function buildProgram(): Command {
  const program = new Command('press')
    .description('Render Press.js documents locally or on Press Cloud; deploy apps; manage render jobs and PDFs.')
    .version(VERSION, '-v, --version', 'print the version')
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
      .option('--timeout <ms>', `per-page render limit in milliseconds; remotely the job's limit (at most the plan's), waited for plus 15 s (default: press.toml's timeout, else ${DEFAULT_TIMEOUT_MS})`)
      .option('--watch', 'render again whenever a file of the entry changes (Ctrl-C stops)')
      .option('--timing-detail', 'print each step\'s duration on stderr (hash, upload, queue, render, download)')
      .option('--remote', 'render on Press Cloud instead of this machine')
      .option('--save-version', 'with --remote: keep the uploaded version (in --deploy-id, --slug or a deploy named after the entry)')
      .addOption(new Option('--remote-output <mode>', 'with --remote: output mode of the job').choices(['transient', 'managed']).default('transient'))
      .option('--deploy-id <id>', 'with --remote: the existing deploy to upload the version to')
      .option('--slug <slug>', 'with --remote: the deploy (by slug; created when new) to upload the version to')
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

  program
    .command('logout')
    .description('forget the stored API key of the profile')
    .option('--profile <name>', 'the profile (default: PRESS_PROFILE, else "default")')
    .option('--json', 'print the result as JSON on stdout')
    .action((flags) => logoutCommand(flags));

  withApi(program.command('whoami').description('show the account of the current API key, and where the key and API base came from'))
    .action((flags) => whoamiCommand(flags));

  program
    .command('completion <shell>')
    .description('print a shell completion script: bash, zsh or fish')
    .addHelpText('after', '\n  bash: eval "$(press completion bash)"   zsh: eval "$(press completion zsh)"\n  fish: press completion fish > ~/.config/fish/completions/press.fish')
    .action((shell: string) => {
      process.stdout.write(completionScript(shell, program));
    });

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
    const { message, code, exitCode } = describeFailure(err, activeCredentials);
    // the code ends the first line; details (e.g. the list of entries) follow it
    const [head, ...rest] = message.split('\n');
    process.stderr.write(`press: ${head} (${code})\n${rest.map((l) => `${l}\n`).join('')}`);
    if (json) process.stdout.write(`${JSON.stringify({ error: code, message, exitCode })}\n`);
    return exitCode;
  }
}
