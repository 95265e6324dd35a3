import type { PageRequest } from '../../model/pagination.js';
import { assignments, decode, decodeAll, insert, type Table } from './catalogue.js';
import type { SqlExecutor } from './executor.js';

/** Typed reads and writes of catalogue tables over an executor: the few shapes every repository repeats. */

export async function first<R>(x: SqlExecutor, t: Table<R>, sql: string, params: readonly unknown[] = []): Promise<R | null> {
  return decode(t, await x.one(sql, params));
}

export async function every<R>(x: SqlExecutor, t: Table<R>, sql: string, params: readonly unknown[] = []): Promise<R[]> {
  return decodeAll(t, await x.all(sql, params));
}

/** a single numeric column `n` of the first row (counts, sums) */
export async function scalar(x: SqlExecutor, sql: string, params: readonly unknown[] = []): Promise<number> {
  return Number((await x.one(sql, params))?.n ?? 0);
}

export async function insertRecord<R>(x: SqlExecutor, t: Table<R>, record: R, suffix = ''): Promise<number> {
  const q = insert(t, record, suffix);
  return x.run(q.sql, q.params);
}

/** UPDATE of the patch's defined fields; nothing when the patch is empty */
export async function updateRecord<R>(x: SqlExecutor, t: Table<R>, patch: Partial<R>, where: string, params: readonly unknown[]): Promise<void> {
  const set = assignments(t, patch);
  if (set) await x.run(`UPDATE ${t.name} SET ${set.sql} WHERE ${where}`, [...set.params, ...params]);
}

/**
 * One page of a keyset list ordered (`orderBy` desc, id desc): `limit + 1` rows after the cursor.
 * `where` filters without the cursor; the cursor's time is compared against `orderBy`.
 */
export async function pageOf<R>(
  x: SqlExecutor, t: Table<R>, where: string, params: readonly unknown[], page: PageRequest, orderBy = 'created_at',
): Promise<R[]> {
  let sql = `SELECT * FROM ${t.name} WHERE ${where}`;
  const p = [...params];
  if (page.after) {
    sql += ` AND (${orderBy} < ? OR (${orderBy} = ? AND id < ?))`;
    p.push(page.after.at, page.after.at, page.after.id);
  }
  p.push(page.limit + 1);
  return every(x, t, `${sql} ORDER BY ${orderBy} DESC, id DESC LIMIT ?`, p);
}

/** multi-row INSERT in chunks (one statement per chunk, not a round trip per row) */
export async function insertMany(x: SqlExecutor, table: string, columns: string[], rows: unknown[][], chunk = 500): Promise<void> {
  const one = `(${columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    await x.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${part.map(() => one).join(', ')}`, part.flat());
  }
}
