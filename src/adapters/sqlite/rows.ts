/** column name → record key; columns come from a fixed schema, so the map stays small */
const camelKeys = new Map<string, string>();

function camelKey(column: string): string {
  let key = camelKeys.get(column);
  if (key === undefined) {
    key = column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (camelKeys.size < 10_000) camelKeys.set(column, key);
  }
  return key;
}

/** snake_case row → camelCase record, with 0/1 columns listed in `booleans` turned into booleans. */
export function camel<T>(row: Record<string, unknown> | undefined, booleans: string[] = []): T | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const k in row) {
    const key = camelKey(k);
    const v = row[k];
    out[key] = booleans.length !== 0 && booleans.includes(key) ? v === 1 : v;
  }
  return out as T;
}

/** record key → column name (the inverse of `camel`), cached like it */
const snakeKeys = new Map<string, string>();

export function snakeKey(key: string): string {
  let column = snakeKeys.get(key);
  if (column === undefined) {
    column = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snakeKeys.size < 10_000) snakeKeys.set(key, column);
  }
  return column;
}

export function camelAll<T>(rows: unknown[], booleans: string[] = []): T[] {
  return rows.map((r) => camel<T>(r as Record<string, unknown>, booleans) as T);
}

/** keyset condition for (created_at desc, id desc) lists */
export function afterClause(after?: { createdAt: number; id: string }): { sql: string; params: unknown[] } {
  if (!after) return { sql: '', params: [] };
  return { sql: ' AND (created_at < ? OR (created_at = ? AND id < ?))', params: [after.createdAt, after.createdAt, after.id] };
}
