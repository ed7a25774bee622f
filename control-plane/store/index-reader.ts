/**
 * Reading the index from another thread (the snapshot worker), apart from the store's own connection,
 * so a million entries are read and encoded while the control plane goes on answering.
 *
 * SQLite: a read-only connection of its own to the store's file. Revision and entries are read inside
 * one read transaction, and WAL gives that transaction a consistent view at one revision while the
 * main thread goes on writing. Another engine slots in as another branch of `openIndexReader`.
 */
import Database from 'better-sqlite3'
import type { LeakAction } from '../../protocol/leak.js'
import type { IndexEntry } from './index-log.js'
import type { SqlDialect } from './sql.js'

/** Where another thread finds the store (the store's `location`): plain data, so it crosses to a worker. */
export interface StoreLocation {
  dialect: SqlDialect
  /** SQLite: the database file's path. */
  address: string
}

/** A read-only view of the index, opened apart from the store. */
export interface IndexReader {
  /**
   * Calls `fn` with the revision and the entries at that revision (iterated, not loaded at once);
   * resolves to its result.
   */
  read<T>(fn: (revision: number, entries: Iterable<IndexEntry> | AsyncIterable<IndexEntry>) => T | Promise<T>): Promise<T>
  /** Closes the connection. */
  close(): Promise<void>
}

/** Opens the index of the store at `location` (the store's `location`) for reading. */
export function openIndexReader(location: StoreLocation): IndexReader {
  switch (location.dialect) {
    case 'sqlite': return openSqliteIndexReader(location.address)
    case 'postgres': throw new Error('no index reader for PostgreSQL yet')
  }
}

function openSqliteIndexReader(file: string): IndexReader {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  const revisionStmt = db.prepare('SELECT value FROM meta WHERE key = ?').pluck()
  // Raw rows: a million entries read as arrays cost less than as objects with named keys.
  const entriesStmt = db.prepare('SELECT sha256, action, leak_id FROM index_entries').raw()
  function* entries(): Generator<IndexEntry> {
    for (const row of entriesStmt.iterate() as IterableIterator<[string, LeakAction, number]>) {
      yield { sha256: row[0], action: row[1], leakId: row[2] }
    }
  }
  return {
    async read<T>(fn: (revision: number, entries: Iterable<IndexEntry> | AsyncIterable<IndexEntry>) => T | Promise<T>): Promise<T> {
      // A deferred read transaction: its view is taken at the first SELECT (the revision) and kept for the entries.
      db.exec('BEGIN')
      try {
        return await fn(revisionStmt.get('revision') as number, entries())
      } finally {
        db.exec('COMMIT')
      }
    },
    async close(): Promise<void> {
      db.close()
    },
  }
}
