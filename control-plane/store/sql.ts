/**
 * The one seam between the store's repositories and a database engine. The repositories write their
 * SQL once, against this interface; an engine (SQLite through better-sqlite3, PostgreSQL through pg)
 * implements it. What the SQL may use so that both engines run it:
 * - placeholders `?` (params as an array) or `@name` (params as an object), never `$1`;
 * - `INSERT ... ON CONFLICT ... DO NOTHING | DO UPDATE`, `RETURNING`, `coalesce`, `count(*)`; integers,
 *   text (ISO-8601 timestamps, JSON as text) and 0/1 flags, as the schema stores them;
 * - where the engines differ (a function only one of them has), the repository asks `dialect`.
 * Integers come back as numbers on both engines (ids and counts stay below 2^53).
 */

/** A value bound to a placeholder. */
export type SqlValue = string | number | bigint | null | Buffer

/** Placeholder values: positional for `?`, named for `@name`. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>

/** Which engine a connection speaks to. */
export type SqlDialect = 'sqlite' | 'postgres'

/** How a transaction commits. */
export interface TransactionOptions {
  /**
   * `relaxed`: the commit need not reach the disk before it returns (a crash of the machine, not of the
   * process, may lose it): for writes that the next one replaces anyway, such as node heartbeats.
   * SQLite: `synchronous = NORMAL` for this transaction; PostgreSQL: `SET LOCAL synchronous_commit = off`.
   * Default `full`. A nested call joins the outer transaction and its durability.
   */
  durability?: 'full' | 'relaxed'
  /**
   * `deferred`: on PostgreSQL the transaction starts without the write turn (the advisory lock that
   * runs write transactions one after another, as SQLite runs them) and takes it at `takeWriteTurn()`.
   * For a write whose usual path needs no turn: one statement on a row of its own whose WHERE checks
   * all it relies on (a known node's heartbeat), so it need not queue behind every other write. Before
   * anything that reads and then writes on what it read, the transaction takes the turn. SQLite runs
   * every transaction in turn anyway. Default `start`. A nested call joins the outer transaction.
   */
  writeTurn?: 'start' | 'deferred'
}

/** A database connection (SQLite) or pool (PostgreSQL), with transactions bound to the async context. */
export interface Sql {
  readonly dialect: SqlDialect
  /** Every row of a query. */
  all<T>(sql: string, params?: SqlParams): Promise<T[]>
  /** The first row of a query, or undefined. */
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>
  /** Runs a statement; how many rows it changed. */
  run(sql: string, params?: SqlParams): Promise<{ changes: number }>
  /** Runs a script of several statements without placeholders (migrations). */
  exec(sql: string): Promise<void>
  /**
   * Runs `fn` in one write transaction and returns its result: committed when it resolves, rolled back
   * when it throws. Every statement made from inside `fn` (in its async context) runs in it; a nested
   * call joins the outer transaction. Write transactions are serialized (no two interleave).
   */
  transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T>
  /**
   * Takes the write turn in a transaction begun with `writeTurn: 'deferred'`, waiting for the
   * transaction that holds it; does nothing when this transaction holds it already, and on SQLite.
   * Statements made before it saw the database as of their own time: reread what a write depends on.
   */
  takeWriteTurn(): Promise<void>
  /** True inside a `transaction` callback (in this async context). */
  readonly inTransaction: boolean
  /** Closes the connection or pool; the object is unusable after. */
  close(): Promise<void>
}
