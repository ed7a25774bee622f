/**
 * Reading the index from another thread (the snapshot worker), apart from the store's own connection,
 * so a million entries are read and encoded while the control plane goes on answering.
 *
 * SQLite: a read-only connection of its own to the store's file. Revision and entries are read inside
 * one read transaction, and WAL gives that transaction a consistent view at one revision while the
 * main thread goes on writing.
 *
 * PostgreSQL: a connection of its own to the database URL. Revision and entries are read inside one
 * `REPEATABLE READ READ ONLY` transaction (one snapshot, taken at its first query, for all of it),
 * the entries through a cursor in batches, so a million entries are never held in one result.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import type { LeakAction } from '../../protocol/leak.js'
import type { IndexEntry } from './index-log.js'
import type { SqlDialect } from './sql.js'

/** Where another thread finds the store (the store's `location`): plain data, so it crosses to a worker. */
export interface StoreLocation {
  dialect: SqlDialect
  /** SQLite: the database file's path; PostgreSQL: the database URL. */
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
    case 'postgres': return openPostgresIndexReader(location.address)
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

/** Rows a cursor fetch brings at once: large enough that round trips cost little, small enough to hold. */
const CURSOR_BATCH = 10_000

function openPostgresIndexReader(url: string): IndexReader {
  let client: pg.Client | undefined
  let connecting: Promise<pg.Client> | undefined
  const connection = async (): Promise<pg.Client> => {
    if (client !== undefined) return client
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'leakgate-snapshot' })
      // A dropped connection: the next read connects again (an 'error' without a listener would crash the worker).
      c.on('error', () => {
        if (client === c) client = undefined
      })
      c.on('end', () => {
        if (client === c) client = undefined
      })
      await c.connect()
      client = c
      return c
    })().finally(() => {
      connecting = undefined
    })
    return connecting
  }
  return {
    async read<T>(fn: (revision: number, entries: Iterable<IndexEntry> | AsyncIterable<IndexEntry>) => T | Promise<T>): Promise<T> {
      const c = await connection()
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      try {
        // The snapshot is taken at this first query: the entries below are the index at this revision,
        // whatever the control planes commit meanwhile.
        const meta = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'revision'")
        const revision = Number(meta.rows[0]?.value ?? 0)
        // No ORDER BY: the snapshot's encoder sorts; a cursor streams the table in one scan.
        await c.query('DECLARE leakgate_index NO SCROLL CURSOR FOR SELECT sha256, action, leak_id FROM index_entries')
        async function* entries(): AsyncGenerator<IndexEntry> {
          for (;;) {
            // Raw rows (arrays), as on SQLite; leak_id is int8, which pg gives as text.
            const batch = await c.query<[string, LeakAction, string]>({ text: `FETCH ${CURSOR_BATCH} FROM leakgate_index`, rowMode: 'array' })
            for (const row of batch.rows) yield { sha256: row[0], action: row[1], leakId: Number(row[2]) }
            if (batch.rows.length < CURSOR_BATCH) return
          }
        }
        return await fn(revision, entries())
      } finally {
        // Read only: COMMIT and ROLLBACK end it alike; the cursor closes with the transaction.
        await c.query('ROLLBACK')
      }
    },
    async close(): Promise<void> {
      const c = client ?? await connecting?.catch(() => undefined)
      client = undefined
      await c?.end()
    },
  }
}
