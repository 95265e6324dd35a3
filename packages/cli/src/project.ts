/**
 * press.toml: the project file `press render` reads, as Press.js documents it (spec §9.4).
 *
 *   workspace = "."                     # base directory of every relative path (default: press.toml's folder)
 *
 *   [playwright]                        # print options of every entry (Playwright's page.pdf() names) and
 *   format = "A4"                       # `timeout`, the per-page render limit in ms (default 30000)
 *   printBackground = true
 *   margin = { top = "1cm", bottom = "1cm" }
 *
 *   [runtime.env]                       # env vars of every entry: pressCloud.env.get("CURRENCY")
 *   CURRENCY = "EUR"
 *   [runtime.secrets]                   # secrets, each naming the environment variable that holds its value
 *   BILLING_TOKEN = "INVOICE_BILLING_TOKEN"
 *
 *   [pdf.invoice]                       # one PDF entry, rendered by `press render invoice`
 *   workspace = "apps/invoice"          # the entry's own base directory (relative to the one above)
 *   build = "npm run build"             # run in the entry's workspace before every render
 *   dir = "dist"                        # directory served (local) or uploaded (--remote); default "."
 *   entry = "index.html"                # document inside dir; default index.html
 *   output = "out/invoice.pdf"          # default <name>.pdf
 *   payload_path = "payload.json"       # the job payload: .json → JSON, other files → binary with their mime
 *   landscape = true                    # any [playwright] key, for this entry only
 *   [pdf.invoice.runtime.env]           # per-entry tables, merged over [runtime.*]
 *   [pdf.invoice.runtime.secrets]
 *
 * `.dev.vars` (KEY=VALUE lines) in the entry's workspace directory supplies environment variables for developers
 * who do not export them (secret values, the build command's environment); the process environment wins over it.
 * Unknown keys are refused with the file and line, so a typo never passes silently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { PdfOptions } from '@press-cloud/engine';
import { parse as parseToml } from 'smol-toml';
import { usageError } from './errors.js';

export interface RuntimeTables {
  env: Record<string, string>;
  /** secret name → name of the environment variable holding its value */
  secrets: Record<string, string>;
}

/** Playwright `page.pdf()` options press.toml may set (spec §9.4); `timeout` is separate (see EntryConfig). */
export type PrintOptions = PdfOptions;

export interface EntryConfig {
  name: string;
  /** the entry's workspace directory, relative to the project's base directory */
  workspace: string;
  dir: string;
  entry: string;
  output: string;
  payloadPath: string | null;
  build: string | null;
  print: PrintOptions;
  /** per-page render limit in ms, when press.toml sets one */
  timeoutMs: number | null;
  runtime: RuntimeTables;
}

export interface Project {
  /** absolute path of press.toml */
  path: string;
  /** the base directory (`workspace`): relative paths are resolved against it */
  root: string;
  entries: EntryConfig[];
}

/** A chosen entry with absolute paths and its env and secret values resolved. */
export interface ResolvedEntry {
  name: string;
  /** absolute workspace directory of the entry: the build runs there, `.dev.vars` is read from there */
  workspace: string;
  /** absolute directory served or uploaded */
  dir: string;
  /** the document, relative POSIX path inside dir */
  entry: string;
  /** absolute output path */
  output: string;
  payloadPath: string | null;
  build: string | null;
  print: PrintOptions;
  timeoutMs: number | null;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** `.dev.vars` under the process environment: what the build command runs with */
  processEnv: NodeJS.ProcessEnv;
  /** paths inside dir that are never served or uploaded: press.toml, the payload file, the output */
  exclude: (path: string) => boolean;
}

export const CONFIG_FILE = 'press.toml';
const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;
const TOP_KEYS = ['workspace', 'playwright', 'runtime', 'pdf'];
const ENTRY_KEYS = ['workspace', 'build', 'dir', 'entry', 'output', 'payload_path', 'runtime'];
const PRINT_KEYS = ['format', 'landscape', 'margin', 'printBackground', 'scale', 'preferCSSPageSize', 'width', 'height'];
const PLAYWRIGHT_KEYS = [...PRINT_KEYS, 'timeout'];
const MARGIN_KEYS = ['top', 'right', 'bottom', 'left'];
const FORMATS = ['Letter', 'Legal', 'Tabloid', 'Ledger', 'A0', 'A1', 'A2', 'A3', 'A4', 'A5', 'A6'];

/** press.toml from `--config`, else the nearest one in the working directory or its parents. */
export function findConfig(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw usageError(`config file ${explicit} does not exist`, 'config_not_found');
    return path;
  }
  const found = findConfigUpwards(cwd);
  if (!found) throw usageError(`no ${CONFIG_FILE} in ${cwd} or its parents (pass --config <path>)`, 'config_not_found');
  return found;
}

export function findConfigUpwards(from: string): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const path = join(dir, CONFIG_FILE);
    if (existsSync(path)) return path;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The line a key is defined on: the `[table]` header for a table, else the `key =` line inside its table.
 * Only for messages, so a best effort: dotted keys and inline tables fall back to the first line naming the key.
 */
export function lineOf(text: string, keyPath: string[]): number | null {
  const lines = text.split(/\r?\n/);
  const norm = (s: string) => s.split('.').map((p) => p.trim().replace(/^["']|["']$/g, '')).join('.');
  const last = keyPath[keyPath.length - 1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tablePath = keyPath.slice(0, -1).join('.');
  // `key =` at the start of a line, or inside an inline table (`margin = { top = "1cm", middle = … }`)
  const keyLine = new RegExp(`^\\s*["']?${last}["']?\\s*=`);
  const inlineKey = new RegExp(`[{,]\\s*["']?${last}["']?\\s*=`);
  let table = '';
  let inParent: number | null = null;
  let anywhere: number | null = null;
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(lines[i]);
    if (header) {
      table = norm(header[1]);
      if (table === keyPath.join('.')) return i + 1;
      continue;
    }
    if (keyLine.test(lines[i]) && table === tablePath) return i + 1;
    if ((keyLine.test(lines[i]) || inlineKey.test(lines[i])) && (tablePath === table || tablePath.startsWith(`${table}.`))) inParent ??= i + 1;
    if (keyLine.test(lines[i]) || inlineKey.test(lines[i])) anywhere ??= i + 1;
  }
  return inParent ?? anywhere;
}

class ConfigReader {
  constructor(
    readonly path: string,
    private readonly text: string,
  ) {}

  /** "press.toml:7: pdf.a.payload-path …": the file and line of the key, then the problem. */
  fail(keyPath: string[], problem: string): never {
    const line = lineOf(this.text, keyPath);
    throw usageError(`${this.path}${line ? `:${line}` : ''}: ${keyPath.join('.')} ${problem}`, 'invalid_config');
  }

  onlyKeys(table: Record<string, unknown>, at: string[], allowed: readonly string[]) {
    for (const key of Object.keys(table)) {
      if (!allowed.includes(key)) this.fail([...at, key], `is not a known key here (known: ${allowed.join(', ')})`);
    }
  }

  str(table: Record<string, unknown>, at: string[], key: string): string | null {
    const v = table[key];
    if (v === undefined) return null;
    if (typeof v !== 'string' || v === '') this.fail([...at, key], 'must be a non-empty string');
    return v;
  }
}

export function loadProject(path: string): Project {
  const text = readFileSync(path, 'utf8');
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as Error & { line?: number; column?: number };
    const where = e.line ? `:${e.line}:${e.column ?? 1}` : '';
    throw usageError(`${path}${where}: ${e.message.split('\n')[0].replace(/^Invalid TOML document: /, 'invalid TOML: ')}`, 'invalid_config');
  }
  const r = new ConfigReader(path, text);
  r.onlyKeys(doc, [], TOP_KEYS);
  const root = resolve(dirname(path), r.str(doc, [], 'workspace') ?? '.');
  const shared = runtimeOf(r, doc.runtime, ['runtime']);
  const defaults = playwrightOf(r, doc.playwright ?? {}, ['playwright'], PLAYWRIGHT_KEYS);
  const pdf = doc.pdf ?? {};
  if (!isTable(pdf)) r.fail(['pdf'], 'must be a table of entries ([pdf.<name>])');

  const entries = Object.entries(pdf).map(([name, raw]): EntryConfig => {
    const at = ['pdf', name];
    if (!isTable(raw)) r.fail(at, 'must be a table');
    r.onlyKeys(raw, at, [...ENTRY_KEYS, ...PLAYWRIGHT_KEYS]);
    const own = runtimeOf(r, raw.runtime, [...at, 'runtime']);
    const overrides = playwrightOf(r, Object.fromEntries(Object.entries(raw).filter(([k]) => PLAYWRIGHT_KEYS.includes(k))), at, PLAYWRIGHT_KEYS);
    const { timeout, ...print } = { ...defaults, ...overrides };
    return {
      name,
      workspace: r.str(raw, at, 'workspace') ?? '.',
      dir: r.str(raw, at, 'dir') ?? '.',
      entry: (r.str(raw, at, 'entry') ?? 'index.html').replace(/^\/+/, ''),
      output: r.str(raw, at, 'output') ?? `${name}.pdf`,
      payloadPath: r.str(raw, at, 'payload_path'),
      build: r.str(raw, at, 'build'),
      print: print as PrintOptions,
      timeoutMs: (timeout as number | undefined) ?? null,
      runtime: { env: { ...shared.env, ...own.env }, secrets: { ...shared.secrets, ...own.secrets } },
    };
  });
  return { path, root, entries };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** [playwright] or an entry's overrides: known keys with the types page.pdf() takes. */
function playwrightOf(r: ConfigReader, raw: unknown, at: string[], allowed: string[]): Record<string, unknown> {
  if (!isTable(raw)) r.fail(at, 'must be a table');
  r.onlyKeys(raw, at, allowed);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw)) {
    const here = [...at, key];
    switch (key) {
      case 'landscape':
      case 'printBackground':
      case 'preferCSSPageSize':
        if (typeof v !== 'boolean') r.fail(here, 'must be true or false');
        out[key] = v;
        break;
      case 'format': {
        const f = typeof v === 'string' ? FORMATS.find((x) => x.toLowerCase() === v.toLowerCase()) : undefined;
        if (!f) r.fail(here, `must be one of ${FORMATS.join(', ')}`);
        out[key] = f;
        break;
      }
      case 'scale':
        if (typeof v !== 'number' || v < 0.1 || v > 2) r.fail(here, 'must be a number from 0.1 to 2');
        out[key] = v;
        break;
      case 'width':
      case 'height':
        out[key] = cssLength(r, here, v);
        break;
      case 'margin':
        if (!isTable(v)) r.fail(here, 'must be a table: { top = "1cm", right = "1cm", bottom = "1cm", left = "1cm" }');
        r.onlyKeys(v, here, MARGIN_KEYS);
        out[key] = Object.fromEntries(Object.entries(v).map(([side, len]) => [side, cssLength(r, [...here, side], len)]));
        break;
      case 'timeout':
        if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) r.fail(here, 'must be a positive whole number of milliseconds');
        out[key] = v;
        break;
    }
  }
  return out;
}

/** A length as page.pdf() takes it: a number is pixels, a string carries its unit (px, in, cm, mm). */
function cssLength(r: ConfigReader, at: string[], v: unknown): string {
  if (typeof v === 'number' && v >= 0) return `${v}px`;
  if (typeof v === 'string' && /^\d+(\.\d+)?(px|in|cm|mm)?$/.test(v.trim())) return v.trim();
  return r.fail(at, 'must be a length such as "21cm", "8.5in", "10mm" or a number of pixels');
}

function runtimeOf(r: ConfigReader, raw: unknown, at: string[]): RuntimeTables {
  const out: RuntimeTables = { env: {}, secrets: {} };
  if (raw === undefined) return out;
  if (!isTable(raw)) r.fail(at, 'must be a table');
  r.onlyKeys(raw, at, ['env', 'secrets']);
  for (const [kind, table] of Object.entries(raw)) {
    if (!isTable(table)) r.fail([...at, kind], 'must be a table');
    for (const [name, value] of Object.entries(table)) {
      const here = [...at, kind, name];
      if (!VAR_NAME.test(name)) r.fail(here, 'is not a valid name (capital letters, digits and _, not starting with a digit)');
      if (kind === 'env') {
        if (!['string', 'number', 'boolean'].includes(typeof value)) r.fail(here, 'must be a string');
        out.env[name] = String(value);
      } else {
        if (typeof value !== 'string' || value === '') r.fail(here, 'must name the environment variable that holds the secret');
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
  return project.entries.map((e) => `  ${e.name.padEnd(width)}  ${join(e.workspace, e.dir, e.entry)} → ${e.output}`).join('\n');
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

/** Absolute paths, env and secret values (the process environment over the entry's `.dev.vars`). */
export function resolveEntry(project: Project, e: EntryConfig, env: NodeJS.ProcessEnv = process.env, out?: string): ResolvedEntry {
  const workspace = resolve(project.root, e.workspace);
  const dir = resolve(workspace, e.dir);
  const output = out ? resolve(out) : resolve(workspace, e.output);
  const payloadPath = e.payloadPath ? resolve(workspace, e.payloadPath) : null;
  const devVarsPath = join(workspace, '.dev.vars');
  const devVars = existsSync(devVarsPath) ? parseDevVars(readFileSync(devVarsPath, 'utf8')) : {};
  const processEnv: NodeJS.ProcessEnv = { ...devVars, ...env };
  const secrets: Record<string, string> = {};
  for (const [name, variable] of Object.entries(e.runtime.secrets)) {
    const value = processEnv[variable];
    if (value === undefined) {
      throw usageError(`secret ${name} reads the environment variable ${variable}, which is not set (export it or add it to ${devVarsPath})`, 'secret_not_set');
    }
    secrets[name] = value;
  }
  return {
    name: e.name, workspace, dir, entry: e.entry, output, payloadPath, build: e.build, print: e.print, timeoutMs: e.timeoutMs,
    env: { ...e.runtime.env }, secrets, processEnv, exclude: projectExclusions(dir, [project.path, payloadPath, output]),
  };
}

/** press.toml, payload files and outputs inside `dir`, as relative POSIX paths to leave out of serving and uploads. */
export function projectExclusions(dir: string, paths: (string | null)[]): (path: string) => boolean {
  const inside = (abs: string) => {
    const rel = relative(dir, abs);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : null;
  };
  const hidden = new Set(paths.map((p) => p && inside(p)).filter((p): p is string => !!p));
  // any press.toml, at any depth: a project file is never part of a document
  return (p) => hidden.has(p) || p === CONFIG_FILE || p.endsWith(`/${CONFIG_FILE}`);
}
