import { PressCloudError } from '@press-cloud/sdk';

/** The exit codes of `press`, documented in `press --help` and the README. */
export const EXIT = {
  ok: 0,
  /** an API or other error not covered below (network error, 409, 5xx…) */
  error: 1,
  /** wrong flags or arguments, press.toml problems, entry selection */
  usage: 2,
  /** no, invalid, disabled or under-privileged API key (401/403) */
  auth: 3,
  /** the deploy, job or PDF does not exist (404) */
  notFound: 4,
  /** the render failed (the job's or the local renderer's error code is printed) */
  renderFailed: 5,
  /** --timeout ran out, or the render hit its time limit (render_timeout) */
  timeout: 6,
  /** Ctrl-C (the conventional 128 + SIGINT) */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  API or other error (the server's error code is printed), a failed build command
  2  usage error: bad flags or arguments, press.toml problems, several entries and none named
  3  authentication: missing, invalid or disabled API key, insufficient permission
  4  not found: unknown deploy, job or PDF
  5  render failed (render_entry_not_found, render_navigation_failed, …)
  6  timeout: --timeout ran out, or the render hit its time limit (render_timeout)
  130  interrupted (Ctrl-C); a remote render's job is canceled and its temporary deploy removed`;

/** An error the CLI reports as `press: <message> (<code>)` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, code = 'usage_error') => new CliError(message, code, EXIT.usage);

/** Where the failing request's key and API base came from (set by user-config), for 401s and network errors. */
export interface CredentialSources {
  apiBase: string;
  tokenSource: string;
  apiBaseSource: string;
}

/**
 * A validation message without the API's internals: no JSON path (`body.`, `params.`), no regular expression.
 * The CLI checks what it can itself; this only tidies what still reaches the server.
 */
export function plainValidationMessage(message: string): string {
  return message
    .replace(/\b(body|params|querystring|query|headers)\./g, '')
    .replace(/\s*must match pattern\s+"(?:[^"\\]|\\.)*"/g, ' is malformed')
    .replace(/\s*must match format\s+"([^"]*)"/g, ' must be a valid $1');
}

/** The message, code and exit code any failure maps to. */
export function describeFailure(err: unknown, creds: CredentialSources | null = null): { message: string; code: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, code: err.code, exitCode: err.exitCode };
  if (err instanceof PressCloudError) {
    const exitCode =
      err.status === 401 || err.status === 403
        ? EXIT.auth
        : err.status === 404
          ? EXIT.notFound
          : err.code === 'timeout'
            ? EXIT.timeout
            : EXIT.error;
    let message = err.status === 400 ? plainValidationMessage(err.message) : err.message;
    if (err.status === 401 && creds) message += ` (the key came from ${creds.tokenSource})`;
    if (err.status === 0 && err.code === 'network_error') {
      message += creds ? ` — is the server at ${creds.apiBase} (from ${creds.apiBaseSource}) up?` : ' — is PRESS_CLOUD_API / --api-base right and the server up?';
    }
    return { message, code: err.code, exitCode };
  }
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('render_')) {
    return { message: String(e.message), code: e.code, exitCode: e.code === 'render_timeout' ? EXIT.timeout : EXIT.renderFailed };
  }
  return { message: err instanceof Error ? err.message : String(err), code: 'internal_error', exitCode: EXIT.error };
}

/**
 * Runs an API call about one object the user named by id; a 404, or a 400 because the id is malformed, becomes
 * "no such <what> <id>" (exit 4) — the user learns the id is wrong, not the API's id pattern.
 */
export async function byId<T>(what: string, code: string, id: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PressCloudError && (err.status === 404 || (err.status === 400 && /id\b/i.test(err.message)))) {
      throw new CliError(`no such ${what} ${id}`, err.status === 404 ? err.code : code, EXIT.notFound);
    }
    throw err;
  }
}
