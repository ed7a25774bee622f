/**
 * The PostgreSQL engine of the store's `Sql` seam, over a `pg` pool.
 *
 * The repositories' SQL is written once with `?` / `@name` placeholders; here it is rewritten to
 * PostgreSQL's `$n` (rewritePlaceholders), and int8/numeric results come back as numbers, as SQLite
 * returns them. Transactions take a client from the pool and bind it to the async context, so every
 * statement made inside the callback, however deep, runs on that client.
 *
 * Beside the interface, the engine has `listen` / `notify`: PostgreSQL's LISTEN/NOTIFY, how one
 * replica tells the others that the revision moved (their nodes' long-polls wake).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import pg from 'pg'
import type { Sql, SqlParams, SqlValue, TransactionOptions } from './sql.js'

/** Takes the write lock for the transaction on `client`, once. */
async function takeTurn(client: pg.PoolClient, turn: { held: boolean }): Promise<void> {
  if (turn.held) return
  await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK_KEY])
  turn.held = true
}

/** int8 (bigint, count(*)) and numeric (sum, avg of integers) type oids. */
const INT8_OID = 20
const NUMERIC_OID = 1700

/**
 * The key of the advisory lock a write transaction takes first, its write turn (an arbitrary constant,
 * "LEAK" in ASCII): it serializes write transactions across every process on the database, as SQLite's
 * `BEGIN IMMEDIATE` does, which the repositories were written under (read, then write on what was
 * read). A transaction begun with `writeTurn: 'deferred'` takes it only when it calls `takeWriteTurn()`.
 */
export const WRITE_LOCK_KEY = 0x4c45414b

function parseInt8(text: string): number {
  const n = Number(text)
  // Ids, revisions and counts stay far below 2^53; a value past it would silently lose digits.
  if (!Number.isSafeInteger(n)) throw new RangeError(`an integer from PostgreSQL (${text}) is beyond 2^53`)
  return n
}

/** Type parsers of this engine's pools only (pg's global parsers stay as they are for other users). */
function typeParsers(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides()
  types.setTypeParser(INT8_OID, parseInt8)
  types.setTypeParser(NUMERIC_OID, (text: string) => Number(text))
  return types
}

/** A statement rewritten for PostgreSQL: its text and the order in which named parameters bind. */
export interface RewrittenSql {
  text: string
  /** `@name` placeholders: the name bound to each `$n` (index n-1); empty for `?` placeholders. */
  names: string[]
  /** How many `?` placeholders the statement has. */
  positional: number
}

const IDENT_START = /[A-Za-z_]/
const IDENT_PART = /[A-Za-z0-9_]/

/**
 * Rewrites `?` and `@name` placeholders to `$1`, `$2`...: the same name twice binds one parameter.
 * Quoted strings ('...', E'...'), quoted identifiers ("..."), dollar-quoted bodies ($tag$...$tag$)
 * and comments are copied untouched, so a `?` or `@` inside them stays text; `::type` casts are not
 * placeholders either. `@` before a name is a placeholder only where a value may stand (not in `<@`,
 * `@@`, `@>` operators).
 */
export function rewritePlaceholders(sql: string): RewrittenSql {
  let out = ''
  const names: string[] = []
  let positional = 0
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i] as string
    const next = sql[i + 1]
    if (c === "'" || c === '"') {
      // A quoted string or identifier; a doubled quote inside it is an escaped quote.
      let j = i + 1
      while (j < n) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2
          else break
        } else if (c === "'" && sql[j] === '\\' && /[Ee]/.test(sql[i - 1] ?? '')) {
          j += 2 // E'...' strings escape with backslashes
        } else {
          j++
        }
      }
      out += sql.slice(i, j + 1)
      i = j + 1
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i)
      const j = end === -1 ? n : end
      out += sql.slice(i, j)
      i = j
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2)
      const j = end === -1 ? n : end + 2
      out += sql.slice(i, j)
      i = j
    } else if (c === '$' && !IDENT_PART.test(sql[i - 1] ?? '')) {
      // $tag$ ... $tag$ (or $$ ... $$): copied whole. `$1` stays as written (not a tag).
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))
      if (tag === null) {
        out += c
        i++
      } else {
        const end = sql.indexOf(tag[0], i + tag[0].length)
        const j = end === -1 ? n : end + tag[0].length
        out += sql.slice(i, j)
        i = j
      }
    } else if (c === ':' && next === ':') {
      out += '::'
      i += 2
    } else if (c === '?') {
      positional++
      out += `$${positional}`
      i++
    } else if (c === '@' && next !== undefined && IDENT_START.test(next) && !/[<@>]/.test(sql[i - 1] ?? '')) {
      let j = i + 1
      while (j < n && IDENT_PART.test(sql[j] as string)) j++
      const name = sql.slice(i + 1, j)
      let index = names.indexOf(name)
      if (index === -1) index = names.push(name) - 1
      out += `$${index + 1}`
      i = j
    } else {
      out += c
      i++
    }
  }
  if (positional > 0 && names.length > 0) throw new TypeError('a statement uses both ? and @name placeholders')
  return { text: out, names, positional }
}

/** The values in `$n` order for a rewritten statement. */
function bind(statement: RewrittenSql, params: SqlParams | undefined): SqlValue[] {
  if (statement.names.length > 0) {
    if (params === undefined || Array.isArray(params)) throw new TypeError('a statement with @name placeholders takes an object of values')
    const named = params as Readonly<Record<string, SqlValue>>
    return statement.names.map((name) => {
      const v = named[name]
      if (v === undefined) throw new TypeError(`no value for @${name}`)
      return v
    })
  }
  // No placeholder at all: the values (a list query's filters, all left out) have nothing to bind to.
  if (params === undefined || statement.positional === 0) return []
  if (!Array.isArray(params)) throw new TypeError('a statement with ? placeholders takes an array of values')
  return [...(params as readonly SqlValue[])]
}

/** How long a dropped LISTEN connection waits before connecting again, at most. */
const MAX_RECONNECT_MS = 5_000

/** A listener of a channel: `null` says notifications may have been missed (the connection was lost). */
export type NotificationListener = (payload: string | null) => void

/** Options of the PostgreSQL engine. */
export interface PostgresOptions {
  /** The pool's size (connections per process). Default 10. */
  max?: number
  /** Logs what the engine cannot throw to a caller (a lost LISTEN connection). */
  onError?: (err: Error) => void
}

interface TxContext {
  client: pg.PoolClient
  /** Savepoints made so far in this transaction: each nested call's gets its own name. */
  savepoints: { count: number }
  /** Whether the transaction holds the write lock (WRITE_LOCK_KEY): from its start unless deferred. */
  turn: { held: boolean }
}

/** `Sql` on PostgreSQL. */
export class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const
  readonly #config: pg.ClientConfig
  readonly #pool: pg.Pool
  readonly #tx = new AsyncLocalStorage<TxContext>()
  readonly #statements = new Map<string, RewrittenSql>()
  readonly #onError: (err: Error) => void
  readonly #listeners = new Map<string, Set<NotificationListener>>()
  #listenClient: pg.Client | undefined
  #listenConnecting: Promise<pg.Client> | undefined
  #reconnectTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(url: string, options: PostgresOptions = {}) {
    this.#config = { connectionString: url, types: typeParsers(), application_name: 'leakgate' }
    this.#pool = new pg.Pool({ ...this.#config, max: options.max ?? 10 })
    this.#onError = options.onError ?? ((err) => console.error(`leakgate: postgres: ${err.message}`))
    // An idle client whose connection drops emits on the pool; without a listener it would crash the process.
    this.#pool.on('error', (err) => this.#onError(err))
  }

  get inTransaction(): boolean {
    return this.#tx.getStore() !== undefined
  }

  #prepare(sql: string): RewrittenSql {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = rewritePlaceholders(sql)
      // The repositories' statements are a fixed set; the bound keeps a caller building SQL from growing it.
      if (this.#statements.size >= 1000) this.#statements.clear()
      this.#statements.set(sql, statement)
    }
    return statement
  }

  async #query<T>(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult<pg.QueryResultRow & T>> {
    const statement = this.#prepare(sql)
    const values = bind(statement, params)
    const on = this.#tx.getStore()?.client ?? this.#pool
    return on.query<pg.QueryResultRow & T>(statement.text, values)
  }

  async all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return (await this.#query<T>(sql, params)).rows
  }

  async get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.#query<T>(sql, params)).rows[0]
  }

  async run(sql: string, params?: SqlParams): Promise<{ changes: number }> {
    return { changes: (await this.#query(sql, params)).rowCount ?? 0 }
  }

  async exec(sql: string): Promise<void> {
    // No values: pg sends it as a simple query, which may hold several statements.
    const on = this.#tx.getStore()?.client ?? this.#pool
    await on.query(sql)
  }

  /**
   * Runs `fn` in one transaction on one pooled client (READ COMMITTED).
   *
   * Ordering: a write transaction first takes the advisory lock WRITE_LOCK_KEY (its write turn), so
   * write transactions of every process run one after another, as on SQLite, and the repositories'
   * read-then-write steps see no other write between their read and their write. The revision is one
   * of them: a write reads `meta.revision`, logs its changes under the next numbers and stores the last
   * one, so revisions are gap-free and handed out in commit order, and a rolled-back transaction gives
   * its numbers back. A transaction begun with `writeTurn: 'deferred'` takes the lock at
   * `takeWriteTurn()` instead; IndexLog.refresh takes it before it reads the revision, so no write
   * advances the revision outside its turn.
   *
   * `durability: 'relaxed'` sets `synchronous_commit = off` for the transaction: its commit returns
   * before its WAL reaches the disk (a crash of the server may lose it; it is never seen half-done).
   *
   * A nested call joins the outer transaction inside a savepoint: when the nested callback throws,
   * only its statements are undone, and the outer transaction can go on (PostgreSQL would otherwise
   * refuse every later statement of an aborted transaction).
   */
  async transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T> {
    const outer = this.#tx.getStore()
    if (outer !== undefined) return this.#nested(outer, fn)
    const client = await this.#pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      try {
        // Only this transaction's commit waits less: its changes are as visible, and as ordered, as any.
        if (options?.durability === 'relaxed') await client.query('SET LOCAL synchronous_commit = off')
        const turn = { held: false }
        if (options?.writeTurn !== 'deferred') await takeTurn(client, turn)
        const result = await this.#tx.run({ client, savepoints: { count: 0 }, turn }, fn)
        await client.query('COMMIT')
        return result
      } catch (err) {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackErr) {
          // The connection is gone or unusable: the pool must not hand it out again.
          broken = rollbackErr as Error
        }
        throw err
      }
    } finally {
      client.release(broken)
    }
  }

  async takeWriteTurn(): Promise<void> {
    const tx = this.#tx.getStore()
    if (tx === undefined) throw new Error('takeWriteTurn is called inside a transaction')
    await takeTurn(tx.client, tx.turn)
  }

  async #nested<T>(outer: TxContext, fn: () => Promise<T>): Promise<T> {
    const name = `leakgate_sp_${++outer.savepoints.count}`
    await outer.client.query(`SAVEPOINT ${name}`)
    try {
      const result = await this.#tx.run(outer, fn)
      await outer.client.query(`RELEASE SAVEPOINT ${name}`)
      return result
    } catch (err) {
      await outer.client.query(`ROLLBACK TO SAVEPOINT ${name}`)
      throw err
    }
  }

  /**
   * Sends `payload` to every listener of `channel` in every process on this database. Inside a
   * transaction it is delivered at commit (and not at all on rollback), so a listener never hears of a
   * change it cannot read yet.
   */
  async notify(channel: string, payload: string): Promise<void> {
    checkChannel(channel)
    await this.#query('SELECT pg_notify(?, ?)', [channel, payload])
  }

  /**
   * Calls `fn` with each notification's payload on `channel` (from any process, this one included),
   * until the returned function is called. LISTEN runs on one dedicated connection (not the pool's):
   * when it drops, the engine connects again with backoff, listens again, and calls every listener
   * with `null`, since notifications sent meanwhile are lost: the listener rechecks what it waits for.
   */
  async listen(channel: string, fn: NotificationListener): Promise<() => Promise<void>> {
    checkChannel(channel)
    let set = this.#listeners.get(channel)
    const first = set === undefined
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(channel, set)
    }
    set.add(fn)
    if (first) {
      const client = await this.#listenConnection()
      await client.query(`LISTEN ${channel}`)
    }
    return async () => {
      const listeners = this.#listeners.get(channel)
      if (listeners === undefined || !listeners.delete(fn) || listeners.size > 0) return
      this.#listeners.delete(channel)
      await this.#listenClient?.query(`UNLISTEN ${channel}`).catch((err: Error) => this.#onError(err))
    }
  }

  async #listenConnection(): Promise<pg.Client> {
    if (this.#listenClient !== undefined) return this.#listenClient
    this.#listenConnecting ??= this.#connectListener().finally(() => {
      this.#listenConnecting = undefined
    })
    return this.#listenConnecting
  }

  async #connectListener(): Promise<pg.Client> {
    const client = new pg.Client(this.#config)
    client.on('notification', (msg) => {
      for (const fn of this.#listeners.get(msg.channel) ?? []) fn(msg.payload ?? '')
    })
    let lost = false
    const onLost = (err?: Error): void => {
      if (lost) return
      lost = true
      if (this.#listenClient === client) this.#listenClient = undefined
      if (this.#closed) return
      this.#onError(new Error(`the LISTEN connection was lost (${err?.message ?? 'closed'}); connecting again`, { cause: err }))
      this.#reconnect(100)
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    await client.connect()
    this.#listenClient = client
    return client
  }

  #reconnect(delayMs: number): void {
    if (this.#closed || this.#reconnectTimer !== undefined) return
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      void this.#relisten().catch((err: Error) => {
        this.#onError(err)
        this.#reconnect(Math.min(delayMs * 2, MAX_RECONNECT_MS))
      })
    }, delayMs)
    this.#reconnectTimer.unref()
  }

  async #relisten(): Promise<void> {
    if (this.#closed || this.#listeners.size === 0) return
    const client = await this.#listenConnection()
    for (const channel of this.#listeners.keys()) await client.query(`LISTEN ${channel}`)
    for (const set of this.#listeners.values()) for (const fn of set) fn(null)
  }

  async close(): Promise<void> {
    // A second close (a test closing the store under a running app) is a no-op, as on SQLite.
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#reconnectTimer)
    const listener = this.#listenClient
    this.#listenClient = undefined
    this.#listeners.clear()
    await listener?.end().catch(() => undefined)
    await this.#pool.end()
  }
}

/** Channel names go into LISTEN unquoted: plain lowercase identifiers only. */
function checkChannel(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new TypeError(`channel "${channel}" must be a lowercase identifier`)
}
