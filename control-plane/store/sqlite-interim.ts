/**
 * A minimal `Sql` over one better-sqlite3 connection, for `leakgate migrate|export|import` until the
 * store's own SQLite engine replaces it (it has no statement cache and serializes transactions within
 * this process only, which is all a one-shot command needs).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type Database from 'better-sqlite3'
import type { Sql, SqlParams } from './sql.js'

/** `Sql` on an open better-sqlite3 database (which the caller keeps owning until `close`). */
export class InterimSqliteSql implements Sql {
  readonly dialect = 'sqlite' as const
  readonly #db: Database.Database
  readonly #tx = new AsyncLocalStorage<true>()
  #queue: Promise<unknown> = Promise.resolve()

  constructor(db: Database.Database) {
    this.#db = db
  }

  get inTransaction(): boolean {
    return this.#tx.getStore() === true
  }

  #args(params: SqlParams | undefined): unknown[] {
    if (params === undefined) return []
    return Array.isArray(params) ? [...(params as unknown[])] : [params]
  }

  async all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#db.prepare(sql).all(...this.#args(params)) as T[]
  }

  async get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#db.prepare(sql).get(...this.#args(params)) as T | undefined
  }

  async run(sql: string, params?: SqlParams): Promise<{ changes: number }> {
    return { changes: this.#db.prepare(sql).run(...this.#args(params)).changes }
  }

  async exec(sql: string): Promise<void> {
    this.#db.exec(sql)
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn()
    // One connection holds one transaction: a second waits for the first to end.
    const run = this.#queue.then(async () => {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        const result = await this.#tx.run(true, fn)
        this.#db.exec('COMMIT')
        return result
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
        throw err
      }
    })
    this.#queue = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
