/** snake_case row → camelCase record (PostgreSQL returns real booleans, and int8 as numbers via pgTypes). */
export function camel<T>(row: Record<string, unknown> | undefined): T | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as T;
}

export function camelAll<T>(rows: Record<string, unknown>[]): T[] {
  return rows.map((r) => camel<T>(r) as T);
}

export function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Collects positional parameters: `q.p(value)` returns `$n`. */
export class Params {
  readonly values: unknown[] = [];
  p(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** keyset condition for (<column> desc, id desc) lists */
export function afterClause(q: Params, after: { createdAt: number; id: string } | undefined, column = 'created_at'): string {
  if (!after) return '';
  const at = q.p(after.createdAt);
  return ` AND (${column} < ${at} OR (${column} = ${at} AND id < ${q.p(after.id)}))`;
}

/** `INSERT INTO table (cols) VALUES ($1…)` from a camelCase record */
export function insertSql(table: string, row: Record<string, unknown>, suffix = ''): { sql: string; params: unknown[] } {
  const keys = Object.keys(row);
  const cols = keys.map(snake);
  return {
    sql: `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})${suffix}`,
    params: keys.map((k) => row[k]),
  };
}
