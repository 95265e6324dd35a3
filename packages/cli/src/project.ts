/**
 * press.toml: the project file `press render` reads.
 *
 *   workspace = "acme"                  # optional: account (workspace) id or name; --remote refuses another one
 *
 *   [runtime.env]                       # env vars of every entry: pressCloud.env.get("CURRENCY")
 *   CURRENCY = "EUR"
 *   [runtime.secrets]                   # secrets, each naming the environment variable that holds its value
 *   BILLING_TOKEN = "INVOICE_BILLING_TOKEN"
 *
 *   [pdf.invoice]                       # one PDF entry, rendered by `press render invoice`
 *   dir = "app"                         # directory served (local) or uploaded (--remote); default "."
 *   entry = "index.html"                # document inside dir; default index.html
 *   output = "out/invoice.pdf"          # default <name>.pdf
 *   payload_path = "payload.json"       # the job payload: .json → JSON, other files → binary with their mime
 *   [pdf.invoice.runtime.env]           # per-entry tables, merged over [runtime.*]
 *   [pdf.invoice.runtime.secrets]
 *
 * Relative paths are relative to press.toml. `.dev.vars` next to press.toml (KEY=VALUE lines) supplies values
 * for the environment variables that secrets name, for developers who do not export them; the process
 * environment wins over it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { usageError } from './errors.js';

export interface RuntimeTables {
  env: Record<string, string>;
  /** secret name → name of the environment variable holding its value */
  secrets: Record<string, string>;
}

export interface EntryConfig {
  name: string;
  dir: string;
  entry: string;
  output: string;
  payloadPath: string | null;
  runtime: RuntimeTables;
}

export interface Project {
  /** absolute path of press.toml */
  path: string;
  /** its directory: relative paths are resolved against it */
  root: string;
  workspace: string | null;
  entries: EntryConfig[];
  /** `.dev.vars` next to press.toml, parsed (empty when absent) */
  devVars: Record<string, string>;
}

/** A chosen entry with absolute paths and its env and secret values resolved. */
export interface ResolvedEntry {
  name: string;
  /** absolute directory served or uploaded */
  dir: string;
  /** the document, relative POSIX path inside dir */
  entry: string;
  /** absolute output path */
  output: string;
  payloadPath: string | null;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** paths inside dir that are never served or uploaded: press.toml, the payload file, the output */
  exclude: (path: string) => boolean;
}

export const CONFIG_FILE = 'press.toml';
const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;
const ENTRY_KEYS = new Set(['dir', 'entry', 'output', 'payload_path', 'runtime']);

/** press.toml from `--config`, else the nearest one in the working directory or its parents. */
export function findConfig(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw usageError(`config file ${explicit} does not exist`, 'config_not_found');
    return path;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const path = join(dir, CONFIG_FILE);
    if (existsSync(path)) return path;
    if (dirname(dir) === dir) break;
  }
  throw usageError(`no ${CONFIG_FILE} in ${cwd} or its parents (pass --config <path>)`, 'config_not_found');
}

export function loadProject(path: string): Project {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw usageError(`${path}: ${(err as Error).message.split('\n')[0]}`, 'invalid_config');
  }
  const where = (key: string) => `${path}: ${key}`;
  for (const key of Object.keys(doc)) {
    if (!['workspace', 'runtime', 'pdf'].includes(key)) throw usageError(`${where(key)} is not a press.toml key (workspace, runtime, pdf)`, 'invalid_config');
  }
  if (doc.workspace !== undefined && typeof doc.workspace !== 'string') throw usageError(`${where('workspace')} must be a string`, 'invalid_config');
  const root = dirname(path);
  const shared = runtimeOf(doc.runtime, 'runtime', where);
  const pdf = doc.pdf ?? {};
  if (!isTable(pdf)) throw usageError(`${where('pdf')} must be a table of entries ([pdf.<name>])`, 'invalid_config');

  const entries = Object.entries(pdf).map(([name, raw]): EntryConfig => {
    const key = `pdf.${name}`;
    if (!isTable(raw)) throw usageError(`${where(key)} must be a table`, 'invalid_config');
    for (const k of Object.keys(raw)) {
      if (!ENTRY_KEYS.has(k)) throw usageError(`${where(`${key}.${k}`)} is not supported (${[...ENTRY_KEYS].join(', ')})`, 'invalid_config');
    }
    const str = (k: string, fallback: string | null) => {
      const v = raw[k];
      if (v === undefined) return fallback;
      if (typeof v !== 'string' || v === '') throw usageError(`${where(`${key}.${k}`)} must be a non-empty string`, 'invalid_config');
      return v;
    };
    const own = runtimeOf(raw.runtime, `${key}.runtime`, where);
    return {
      name,
      dir: str('dir', '.')!,
      entry: str('entry', 'index.html')!.replace(/^\/+/, ''),
      output: str('output', `${name}.pdf`)!,
      payloadPath: str('payload_path', null),
      runtime: { env: { ...shared.env, ...own.env }, secrets: { ...shared.secrets, ...own.secrets } },
    };
  });

  const devVarsPath = join(root, '.dev.vars');
  const devVars = existsSync(devVarsPath) ? parseDevVars(readFileSync(devVarsPath, 'utf8')) : {};
  return { path, root, workspace: (doc.workspace as string | undefined) ?? null, entries, devVars };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function runtimeOf(raw: unknown, key: string, where: (k: string) => string): RuntimeTables {
  const out: RuntimeTables = { env: {}, secrets: {} };
  if (raw === undefined) return out;
  if (!isTable(raw)) throw usageError(`${where(key)} must be a table`, 'invalid_config');
  for (const [kind, table] of Object.entries(raw)) {
    if (kind !== 'env' && kind !== 'secrets') throw usageError(`${where(`${key}.${kind}`)} is not supported (env, secrets)`, 'invalid_config');
    if (!isTable(table)) throw usageError(`${where(`${key}.${kind}`)} must be a table`, 'invalid_config');
    for (const [name, value] of Object.entries(table)) {
      if (!VAR_NAME.test(name)) throw usageError(`${where(`${key}.${kind}.${name}`)}: names must match ${VAR_NAME.source}`, 'invalid_config');
      if (kind === 'env') {
        if (!['string', 'number', 'boolean'].includes(typeof value)) throw usageError(`${where(`${key}.env.${name}`)} must be a string`, 'invalid_config');
        out.env[name] = String(value);
      } else {
        if (typeof value !== 'string' || value === '') {
          throw usageError(`${where(`${key}.secrets.${name}`)} must name the environment variable that holds the secret`, 'invalid_config');
        }
        out.secrets[name] = value;
      }
    }
  }
  return out;
}

/** `.dev.vars`: `KEY=VALUE` lines; `#` comments, blank lines, an optional `export ` and quotes are allowed. */
export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    let value = m[2];
    if (/^"(.*)"$/.test(value)) value = value.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    else if (/^'(.*)'$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    out[m[1]] = value;
  }
  return out;
}

function describeEntries(project: Project): string {
  const width = Math.max(...project.entries.map((e) => e.name.length));
  return project.entries.map((e) => `  ${e.name.padEnd(width)}  ${join(e.dir, e.entry)} → ${e.output}`).join('\n');
}

/** The entry to render: the named one, else the only one; several and none named → usage error listing them. */
export function selectEntry(project: Project, name: string | undefined): EntryConfig {
  if (project.entries.length === 0) throw usageError(`${project.path} defines no PDF entries (add a [pdf.<name>] table)`, 'no_entries');
  if (name !== undefined) {
    const found = project.entries.find((e) => e.name === name);
    if (!found) throw usageError(`no entry "${name}" in ${project.path}; its entries:\n${describeEntries(project)}`, 'entry_not_found');
    return found;
  }
  if (project.entries.length === 1) return project.entries[0];
  throw usageError(
    `${project.path} has ${project.entries.length} entries; name one: press render <entry>\n${describeEntries(project)}`,
    'entry_required',
  );
}

/** Absolute paths, env and secret values (from the process environment, then `.dev.vars`). */
export function resolveEntry(project: Project, e: EntryConfig, env: NodeJS.ProcessEnv = process.env, out?: string): ResolvedEntry {
  const dir = resolve(project.root, e.dir);
  const output = out ? resolve(out) : resolve(project.root, e.output);
  const payloadPath = e.payloadPath ? resolve(project.root, e.payloadPath) : null;
  const secrets: Record<string, string> = {};
  for (const [name, variable] of Object.entries(e.runtime.secrets)) {
    const value = env[variable] ?? project.devVars[variable];
    if (value === undefined) {
      throw usageError(`secret ${name} reads the environment variable ${variable}, which is not set (export it or add it to .dev.vars)`, 'secret_not_set');
    }
    secrets[name] = value;
  }
  const inside = (abs: string) => {
    const rel = relative(dir, abs);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : null;
  };
  const hidden = new Set([inside(project.path), payloadPath && inside(payloadPath), inside(output)].filter((p): p is string => !!p));
  return { name: e.name, dir, entry: e.entry, output, payloadPath, env: { ...e.runtime.env }, secrets, exclude: (p) => hidden.has(p) };
}
