/**
 * Migrating a store through its `Sql` connection: each migration the database has not seen yet, in
 * order, in one transaction with its row in `schema_migrations`, so a crash leaves it applied or not.
 */
import { MIGRATIONS, migrationText } from './migrations.js'
import type { Sql } from './sql.js'

/** Applies the migrations the database has not seen yet; returns the schema version. */
export async function migrate(sql: Sql): Promise<number> {
  await sql.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)')
  const current = await schemaVersionOf(sql)
  const newest = MIGRATIONS.at(-1)?.version ?? 0
  if (current > newest) {
    throw new Error(`the store was written by a newer Leakgate (schema ${current}, this one knows ${newest}); upgrade Leakgate`)
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue
    const text = migrationText(m, sql.dialect)
    await sql.transaction(async () => {
      // Two control planes starting on one database: the second finds the migration applied once it gets its turn.
      if (await sql.get('SELECT 1 FROM schema_migrations WHERE version = ?', [m.version]) !== undefined) return
      await sql.exec(text)
      await sql.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()])
    })
  }
  return newest
}

/** The newest migration applied to the database (0 for none). */
export async function schemaVersionOf(sql: Sql): Promise<number> {
  return (await sql.get<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations'))?.v ?? 0
}
