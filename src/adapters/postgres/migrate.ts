import type pg from 'pg';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Session advisory lock key held while migrating ("press" in ASCII). Several nodes may start at once: the first one
 * applies the pending files, the others wait here and then find nothing left to do.
 */
export const MIGRATION_LOCK_KEY = 0x7072657373;

/**
 * Applies numbered `NNN-name.sql` files in order, each in its own transaction, recording them in schema_migrations,
 * all under `pg_advisory_lock` so concurrent starts apply every file exactly once. Returns the files it applied.
 */
export async function migratePostgres(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = readdirSync(dir).filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      // inside the lock: two nodes racing on CREATE TABLE IF NOT EXISTS can still collide in the catalog
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      const ran: string[] = [];
      for (const file of files) {
        const version = Number(file.slice(0, 3));
        if (applied.has(version)) continue;
        const sql = readFileSync(join(dir, file), 'utf8');
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [version, file, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`PostgreSQL migration ${file} failed: ${(err as Error).message}`, { cause: err });
        }
        ran.push(file);
      }
      return ran;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((e: Error) => (broken = e));
    }
  } finally {
    // a client whose unlock failed is destroyed, which ends its session and so releases the lock too
    client.release(broken);
  }
}
