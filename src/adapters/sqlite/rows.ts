/** snake_case row → camelCase record, with 0/1 columns listed in `booleans` turned into booleans. */
export function camel<T>(row: Record<string, unknown> | undefined, booleans: string[] = []): T | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    const key = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[key] = booleans.includes(key) ? v === 1 : v;
  }
  return out as T;
}

export function camelAll<T>(rows: unknown[], booleans: string[] = []): T[] {
  return rows.map((r) => camel<T>(r as Record<string, unknown>, booleans) as T);
}

/** keyset condition for (created_at desc, id desc) lists */
export function afterClause(after?: { createdAt: number; id: string }): { sql: string; params: unknown[] } {
  if (!after) return { sql: '', params: [] };
  return { sql: ' AND (created_at < ? OR (created_at = ? AND id < ?))', params: [after.createdAt, after.createdAt, after.id] };
}
