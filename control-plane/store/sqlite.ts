/**
 * The SQLite engine of the `Sql` seam: one better-sqlite3 connection to the store's file.
 *
 * better-sqlite3 is synchronous and the connection is one, so a transaction that awaits between its
 * statements would otherwise take in whatever statement another request makes meanwhile. Transactions
 * are therefore bound to their async context (AsyncLocalStorage) and run one at a time: a transaction
 * waits its turn, statements made from its context run in it, and statements from any other context
 * wait until it has ended.
 *
 * Durability: WAL with `synchronous = FULL`. In WAL mode NORMAL already survives a kill -9 (the WAL
 * is in the OS page cache), but not a power cut or kernel crash; FULL fsyncs the WAL at every commit,
 * so a write the API has acknowledged survives both. The control plane's writes are operator
 * decisions, scans and sighting batches, few enough that one fsync each costs nothing that matters.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ConfigError } from '../../lib/errors.js'
import type { Sql, SqlParams, SqlValue, TransactionOptions } from './sql.js'

/** The database file's name inside the data directory. */
export const DB_FILE = 'leakgate.db'

/** One open transaction: the context its statements carry. */
interface Txn {
  open: boolean
}

/** `Sql` over a better-sqlite3 connection. */
export class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const
  /** The database file (another thread opens it to read the index). */
  readonly file: string
  readonly #db: Database.Database
  // Prepared once per SQL text: the repositories' statements are a few dozen fixed strings, plus the
  // list filters' few combinations.
  readonly #statements = new Map<string, Database.Statement>()
  readonly #context = new AsyncLocalStorage<Txn>()
  /** The transaction holding the connection, if any. */
  #active: Txn | undefined
  /** Resolves when the active transaction ends. */
  #ended: Promise<void> = Promise.resolve()
  /** The tail of the queue of transactions waiting for their turn. */
  #queue: Promise<void> = Promise.resolve()

  /** Wraps an open connection (see `openSqlite` for the store's file). */
  constructor(db: Database.Database) {
    this.#db = db
    this.file = db.name
  }

  get inTransaction(): boolean {
    return this.#mine()
  }

  async all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#inTurn(() => this.#statement(sql).all(...spread(params)) as T[])
  }

  async get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#inTurn(() => this.#statement(sql).get(...spread(params)) as T | undefined)
  }

  async run(sql: string, params?: SqlParams): Promise<{ changes: number }> {
    return this.#inTurn(() => ({ changes: this.#statement(sql).run(...spread(params)).changes }))
  }

  async exec(sql: string): Promise<void> {
    return this.#inTurn(() => { this.#db.exec(sql) })
  }

  async transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.#mine()) return fn()
    // Take a place in the queue now (synchronously), so transactions start in the order they were asked for.
    const previous = this.#queue
    let release!: () => void
    this.#queue = new Promise((resolve) => { release = resolve })
    await previous
    const txn: Txn = { open: true }
    let end!: () => void
    this.#ended = new Promise((resolve) => { end = resolve })
    this.#active = txn
    const relaxed = options?.durability === 'relaxed'
    try {
      // The safety level cannot change inside a transaction: set before BEGIN, restored after the end.
      if (relaxed) this.#db.pragma('synchronous = NORMAL')
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        const result = await this.#context.run(txn, fn)
        this.#db.exec('COMMIT')
        return result
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
        throw err
      }
    } finally {
      if (relaxed) this.#db.pragma('synchronous = FULL')
      txn.open = false
      this.#active = undefined
      end()
      release()
    }
  }

  async takeWriteTurn(): Promise<void> {
    // Transactions run one at a time (BEGIN IMMEDIATE, and the queue above): a transaction holds the turn from its start.
    if (!this.#mine()) throw new Error('takeWriteTurn is called inside a transaction')
  }

  async close(): Promise<void> {
    // A transaction under way ends first (a scan finishing its last write during shutdown).
    await this.#queue
    if (this.#db.open) this.#db.close()
  }

  /** Whether the calling context is inside the open transaction. */
  #mine(): boolean {
    const txn = this.#context.getStore()
    return txn !== undefined && txn.open && txn === this.#active
  }

  /**
   * Runs `call` (synchronous statements) when this context may use the connection: inside its own
   * transaction, or when none is open. The check and the call are one synchronous step, so no
   * transaction can begin between them.
   */
  async #inTurn<R>(call: () => R): Promise<R> {
    if (!this.#mine()) {
      while (this.#active !== undefined) await this.#ended
    }
    return call()
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = this.#db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }
}

/** better-sqlite3's arguments: the positional values, or the object of named ones. */
function spread(params: SqlParams | undefined): unknown[] {
  if (params === undefined) return []
  return Array.isArray(params) ? (params as readonly SqlValue[]).slice() : [params]
}

/**
 * Opens (creating when needed) the store's SQLite file in `dataDir`, with its pragmas; migrations are
 * the store's to run.
 */
export function openSqlite(dataDir: string): SqliteSql {
  const file = join(dataDir, DB_FILE)
  let db: Database.Database
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    db = new Database(file)
  } catch (cause) {
    // A system error alone ("ENOTDIR: not a directory, mkdir …") does not say which setting to change.
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
    throw new ConfigError(`the data directory ${JSON.stringify(dataDir)} cannot hold the store (${why}): set the dataDir option (LEAKGATE_DATA_DIR, --data-dir) to a folder this process can create and write`, { cause })
  }
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
  } catch (err) {
    db.close()
    throw err
  }
  return new SqliteSql(db)
}
