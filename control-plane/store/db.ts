/**
 * Migrating a store through its `Sql` connection, either engine: each migration the database has not
 * seen yet, in order, in one transaction with its row in `schema_migrations`, so a crash leaves it
 * applied or not.
 */
import { MIGRATIONS, migrationText } from './migrations.js'
import type { Sql } from './sql.js'

/**
 * The key of the advisory lock PostgreSQL migrations run under ("LGMI" in ASCII): replicas starting at
 * once take turns, and the later ones find the work done. (On SQLite, `BEGIN IMMEDIATE` does that.)
 */
const MIGRATE_LOCK_KEY = 0x4c474d49

/**
 * Applies the migrations the database has not seen yet, one transaction each, and returns the schema
 * version. Refuses a database written by a newer Leakgate (a schema version this build does not know).
 */
export async function migrate(sql: Sql): Promise<number> {
  const newest = MIGRATIONS.at(-1)?.version ?? 0
  for (;;) {
    const applied = await sql.transaction(async () => {
      if (sql.dialect === 'postgres') await sql.get('SELECT pg_advisory_xact_lock(?)', [MIGRATE_LOCK_KEY])
      await sql.exec(sql.dialect === 'postgres'
        ? 'CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)'
        : 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)')
      const current = await schemaVersionOf(sql)
      if (current > newest) {
        throw new Error(`the store was written by a newer Leakgate (schema ${current}, this one knows ${newest}); upgrade Leakgate`)
      }
      const next = MIGRATIONS.find((m) => m.version > current)
      if (next === undefined) return false
      await sql.exec(migrationText(next, sql.dialect))
      await sql.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [next.version, next.name, new Date().toISOString()])
      return true
    })
    if (!applied) return newest
  }
}

/** The newest migration applied to the database (0 for none). */
export async function schemaVersionOf(sql: Sql): Promise<number> {
  return (await sql.get<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations'))?.v ?? 0
}
