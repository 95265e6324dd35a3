/*
 * A dependency that is down (database, object storage) surfaces as its driver's connection error. The HTTP layer
 * answers those 503 service_unavailable with Retry-After instead of 500: the request may succeed once it is back.
 * These are the shapes the adapters' drivers (node:net, pg, better-sqlite3, the AWS SDK) use for "unreachable".
 */

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
]);
/** PostgreSQL SQLSTATEs: class 08 (connection exception), shutdown (57P01–57P03), too many connections */
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL)/;
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

export function isDependencyOutage(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length && seen.size < 20) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const x = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown; $metadata?: { httpStatusCode?: number } };
    const code = typeof x.code === 'string' ? x.code : '';
    if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.test(code) || SQLITE_UNAVAILABLE.test(code)) return true;
    if (typeof x.message === 'string' && MESSAGES.test(x.message)) return true;
    // the AWS SDK: no answer in time, or the object store answered 5xx (503 SlowDown…)
    if (x.name === 'TimeoutError' || (x.$metadata?.httpStatusCode ?? 0) >= 500) return true;
    queue.push(x.cause);
    if (Array.isArray(x.errors)) queue.push(...x.errors);
  }
  return false;
}
