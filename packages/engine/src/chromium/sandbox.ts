import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** `auto`: on wherever it can run (see decideSandbox); `off`: never (the operator asked; the banner says so loudly). */
export type SandboxMode = 'auto' | 'off';

/** What /readyz (`checks.renderer.detail.sandbox`) and the serve banner report. */
export interface SandboxState {
  enabled: boolean;
  /** who Chromium runs as */
  user: string;
  /** why it is on or off */
  reason: string;
  /** what confines pages besides (or instead of) the sandbox */
  confinedBy: string;
}

/** How Chromium is launched: as the server's user, or through a launcher that drops to `uid`:`gid`. */
export interface SandboxPlan extends SandboxState {
  /** set when the server runs as root: Chromium runs as this user instead */
  dropTo: { uid: number; gid: number; name: string } | null;
}

export function sandboxState(plan: SandboxPlan): SandboxState {
  const { dropTo: _dropTo, ...state } = plan;
  return state;
}

const CONFINED_BY = 'render process, guard proxy, per-render bounds';

/** A user name from /etc/passwd, or a numeric `uid[:gid]`. */
function lookUpUser(spec: string): { uid: number; gid: number; name: string } | null {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    return { uid, gid: numeric[2] === undefined ? uid : Number(numeric[2]), name: `uid ${uid}` };
  }
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === spec) return { uid: Number(uid), gid: Number(gid), name };
    }
  } catch {
    // no /etc/passwd: only numeric users
  }
  return null;
}

/**
 * Whether the kernel lets this user (or `dropTo`) create the user, PID and network namespaces Chromium's sandbox
 * puts each renderer in. Asked of `unshare` (util-linux), as the user Chromium would run as: a kernel or container
 * policy that forbids them (sysctls, AppArmor, seccomp of the container) answers here, not in a hung launch.
 */
function namespacesAllowed(dropTo: SandboxPlan['dropTo']): string | null {
  const unshare = ['unshare', '--user', '--pid', '--net', '--fork', 'true'];
  const argv = dropTo
    ? ['setpriv', `--reuid=${dropTo.uid}`, `--regid=${dropTo.gid}`, '--clear-groups', '--', ...unshare]
    : unshare;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 5_000 });
  if (r.error) return `${argv[0]} could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  if (r.status !== 0) return `user namespaces are not available (${r.stderr.trim().split('\n')[0] || `exit ${r.status}`})`;
  return null;
}

const plans = new Map<string, SandboxPlan>();

/**
 * Decide how Chromium runs. As root: as an unprivileged user (`user`, default `nobody`) with the sandbox on, if that
 * user may create namespaces. As any other user: the sandbox on as that user if it may create namespaces. Else, or
 * with `mode: 'off'`, the sandbox is off and `reason` says why. Memoised per mode and user (it runs a probe).
 */
export function decideSandbox(mode: SandboxMode = 'auto', user = 'nobody'): SandboxPlan {
  const key = `${mode}\0${user}`;
  let plan = plans.get(key);
  if (!plan) {
    plan = plan_(mode, user);
    plans.set(key, plan);
  }
  return plan;
}

function plan_(mode: SandboxMode, user: string): SandboxPlan {
  const uid = process.getuid?.();
  const self = uid === undefined ? 'unknown' : uid === 0 ? 'root' : `uid ${uid}`;
  const off = (reason: string): SandboxPlan => ({ enabled: false, user: self, reason, confinedBy: CONFINED_BY, dropTo: null });
  if (mode === 'off') return off('turned off by PRESS_CHROMIUM_SANDBOX=off');
  if (process.platform !== 'linux' || uid === undefined) return off(`not supported on ${process.platform}`);
  if (uid === 0) {
    const dropTo = lookUpUser(user);
    if (!dropTo) return off(`sandbox user "${user}" does not exist (PRESS_CHROMIUM_SANDBOX_USER)`);
    if (dropTo.uid === 0) return off('the sandbox user is root (PRESS_CHROMIUM_SANDBOX_USER)');
    const denied = namespacesAllowed(dropTo);
    if (denied) return off(`${denied}; Chromium runs as root without it`);
    return {
      enabled: true,
      user: dropTo.name,
      reason: `the server runs as root: Chromium runs as ${dropTo.name} with its sandbox`,
      confinedBy: CONFINED_BY,
      dropTo,
    };
  }
  const denied = namespacesAllowed(null);
  if (denied) return off(denied);
  return { enabled: true, user: self, reason: 'user namespaces available', confinedBy: CONFINED_BY, dropTo: null };
}

/**
 * Flags that only make sense without the sandbox, or that break under it: the GPU flags (SwiftShader's Vulkan
 * driver does not initialise inside the sandbox, and printing needs no GPU; `--disable-gpu` is added instead).
 */
const UNSANDBOXED_ONLY = new Set([
  '--no-sandbox',
  '--disable-setuid-sandbox',
  '--in-process-gpu',
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
]);

export function sandboxedArgs(args: readonly string[]): string[] {
  return [...args.filter((a) => !UNSANDBOXED_ONLY.has(a)), '--disable-gpu'];
}

/** The libraries and data the headless shell loads from its own directory. */
function isSidecar(name: string): boolean {
  return name.endsWith('.so') || /\.so\.\d+$/.test(name) || name.endsWith('.json') || name.endsWith('.pak') || name.endsWith('.dat') || name.endsWith('.bin');
}

function readableByOthers(path: string): boolean {
  for (let p = dirname(path); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) break;
  }
  return (statSync(path).mode & 0o005) === 0o005;
}

/**
 * A copy of the browser the sandbox user can run. `@sparticuz/chromium` unpacks its binary as /tmp/chromium, mode
 * 0700: copied once (with the libraries it loads from its own directory) into a shared directory named after the
 * binary's size and time, so every server on the machine reuses it. A binary others may already run is used as is.
 */
function runnableCopy(executablePath: string): string {
  if (readableByOthers(executablePath)) return executablePath;
  const st = statSync(executablePath);
  const dir = join(tmpdir(), `press-chromium-bin-${st.size}-${Math.floor(st.mtimeMs)}`);
  const target = join(dir, basename(executablePath));
  if (existsSync(target)) return target;
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o755 });
  const source = dirname(executablePath);
  for (const name of readdirSync(source)) {
    if (name === basename(executablePath) || isSidecar(name)) {
      const from = join(source, name);
      if (!statSync(from).isFile()) continue;
      copyFileSync(from, join(staging, name));
      chmodSync(join(staging, name), 0o755);
    }
  }
  chmodSync(staging, 0o755);
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another process won the race: use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
  return target;
}

const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Set up a launch as `plan.dropTo` under `workDir`: a runnable copy of the binary, a HOME and a TMPDIR the sandbox
 * user owns, and a launcher script that hands the profile directory Playwright made (as root, mode 0700) to that
 * user and then drops privileges (setpriv) before exec'ing Chromium. Returns the launcher, to be Playwright's
 * executablePath.
 */
export function prepareDroppedLaunch(plan: SandboxPlan, executablePath: string, workDir: string): string {
  const to = plan.dropTo;
  if (!to) return executablePath;
  const binary = runnableCopy(executablePath);
  // The sandbox user must reach its HOME and TMPDIR through workDir.
  chmodSync(workDir, 0o711);
  const home = join(workDir, 'home');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chownSync(home, to.uid, to.gid);
  const launcher = join(workDir, 'chromium-as-sandbox-user.sh');
  writeFileSync(
    launcher,
    [
      '#!/bin/sh',
      '# Written by Press Cloud: runs Chromium as an unprivileged user with its sandbox on (docs/security-model.md).',
      'for arg in "$@"; do',
      `  case "$arg" in --user-data-dir=*) chown -R ${to.uid}:${to.gid} "\${arg#--user-data-dir=}" ;; esac`,
      'done',
      `HOME=${sh(home)} TMPDIR=${sh(home)} exec setpriv --reuid=${to.uid} --regid=${to.gid} --clear-groups -- ${sh(binary)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  chmodSync(launcher, 0o755);
  return launcher;
}
