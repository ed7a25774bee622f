/**
 * Reading the index from another thread (the snapshot worker): a read-only connection of its own to
 * the store's file. Revision and entries are read inside one read transaction, and WAL gives that
 * transaction a consistent view at one revision while the main thread goes on writing.
 */
import Database from 'better-sqlite3'
import type { LeakAction } from '../../protocol/leak.js'
import type { IndexEntry } from './index-log.js'

/** A read-only view of the index, opened apart from the store. */
export interface IndexReader {
  /** Calls `fn` with the revision and the entries at that revision (iterated, not loaded at once); returns its result. */
  read<T>(fn: (revision: number, entries: Iterable<IndexEntry>) => T): T
  /** Closes the connection. */
  close(): void
}

/** Opens the index of the store at `location` (the store's `location`) for reading. */
export function openIndexReader(location: string): IndexReader {
  const db = new Database(location, { readonly: true, fileMustExist: true })
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
    read<T>(fn: (revision: number, entries: Iterable<IndexEntry>) => T): T {
      return db.transaction(() => fn(revisionStmt.get('revision') as number, entries()))()
    },
    close(): void {
      db.close()
    },
  }
}
