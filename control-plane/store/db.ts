/**
 * Opening the SQLite file: pragmas for durability, then the migrations.
 *
 * Durability: WAL with `synchronous = FULL`. In WAL mode NORMAL already survives a kill -9 (the WAL
 * is in the OS page cache), but not a power cut or kernel crash; FULL fsyncs the WAL at every commit,
 * so a write the API has acknowledged survives both. The control plane's writes are operator
 * decisions, scans and sighting batches, few enough that one fsync each costs nothing that matters.
 */
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { MIGRATIONS } from './migrations.js'

/** The database file's name inside the data directory. */
export const DB_FILE = 'leakgate.db'

/** Opens (creating when needed) and migrates the store in `dataDir`. */
export function openDatabase(dataDir: string): Database.Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, DB_FILE)
  const db = new Database(file)
  try {
    // Hashes of tokens and API keys: nothing usable, but nobody else's business either. Best effort:
    // a file another user owns (a shared volume) stays as it is.
    try {
      chmodSync(file, 0o600)
    } catch {
      // not ours to change
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    // Another process (`leakgate keys create`) may write while the server runs.
    db.pragma('busy_timeout = 5000')
    migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/** Applies the migrations the database has not seen yet; returns the schema version. */
export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT')
  const current = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v
  const newest = MIGRATIONS.at(-1)?.version ?? 0
  if (current > newest) {
    throw new Error(`the store was written by a newer Leakgate (schema ${current}, this one knows ${newest}); upgrade Leakgate`)
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue
    db.transaction(() => {
      db.exec(m.sql)
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString())
    }).immediate()
  }
  return newest
}
