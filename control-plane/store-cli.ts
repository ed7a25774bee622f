/**
 * `leakgate migrate`, `leakgate export` and `leakgate import`: the store's tools. Each works on
 * PostgreSQL (`--database-url`, or LEAKGATE_DATABASE_URL) or on the SQLite file of a data directory
 * (`--data-dir`, or LEAKGATE_DATA_DIR, default ./data).
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { ConfigError } from '../lib/errors.js'
import { migrate as migrateStore } from './store/db.js'
import { PostgresSql } from './store/postgres.js'
import type { Sql } from './store/sql.js'
import { DB_FILE, openSqlite, SqliteSql } from './store/sqlite.js'
import { exportStore, importStore, schemaVersion } from './store/transfer.js'
import { usageMistake } from '../lib/usage.js'

const WHERE = `The store: --database-url URL (or LEAKGATE_DATABASE_URL) for PostgreSQL, otherwise the SQLite
file of --data-dir DIR (or LEAKGATE_DATA_DIR, default ./data).`

const USAGE = {
  migrate: `usage: leakgate migrate [--database-url URL | --data-dir DIR]

Applies the migrations the store has not seen yet and prints its schema version. The control plane
also migrates when it starts; this runs them on their own (before starting several replicas, say).
${WHERE}`,
  export: `usage: leakgate export [--database-url URL | --data-dir DIR] [FILE]

Writes the whole store to FILE (standard output when left out or "-") as newline-delimited JSON: a
header line with the schema version, then one {"table", "row"} line per row. Tokens and API keys are
stored as hashes, so the export holds no secret. Writes wait while it runs; stop the control plane
first for an export of a store nobody is changing.
${WHERE}`,
  import: `usage: leakgate import [--database-url URL | --data-dir DIR] [FILE]

Reads an export (FILE, or standard input when left out or "-") into a new store: the store is
migrated first, and the import is refused unless it is empty and at the export's schema version.
All or nothing: one transaction.
${WHERE}`,
} as const

type Tool = keyof typeof USAGE

interface Target {
  sql: Sql
  /** What to call it in messages: the data directory or the database (without its password). */
  name: string
}

/** Opens the store the options name; `migrateIt` false opens an existing store as it is. */
async function openTarget(values: { 'database-url'?: string | undefined; 'data-dir'?: string | undefined }, migrateIt: boolean): Promise<Target> {
  if (values['database-url'] !== undefined && values['data-dir'] !== undefined) {
    throw new ConfigError('give --database-url or --data-dir, not both')
  }
  const url = values['database-url'] ?? (values['data-dir'] === undefined ? process.env.LEAKGATE_DATABASE_URL || undefined : undefined)
  if (url !== undefined) {
    let shown: URL
    try {
      shown = new URL(url)
    } catch {
      throw new ConfigError('the database URL (--database-url, LEAKGATE_DATABASE_URL) is not a URL; expected postgres://user@host:port/database')
    }
    if (shown.protocol !== 'postgres:' && shown.protocol !== 'postgresql:') {
      throw new ConfigError(`the database URL (--database-url, LEAKGATE_DATABASE_URL) must be postgres://…, got ${shown.protocol}`)
    }
    shown.password = ''
    const sql = new PostgresSql(url, { max: 2 })
    try {
      if (migrateIt) await migrateStore(sql)
      else await sql.get('SELECT 1')
    } catch (err) {
      await sql.close()
      throw err
    }
    return { sql, name: shown.toString() }
  }
  const dir = values['data-dir'] ?? (process.env.LEAKGATE_DATA_DIR || './data')
  if (migrateIt) {
    const sql = openSqlite(dir)
    try {
      await migrateStore(sql)
    } catch (err) {
      await sql.close()
      throw err
    }
    return { sql, name: dir }
  }
  const file = join(dir, DB_FILE)
  if (!existsSync(file)) throw new ConfigError(`there is no store in ${dir} (no ${DB_FILE}); give the data directory with --data-dir or LEAKGATE_DATA_DIR`)
  const db = new Database(file, { fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return { sql: new SqliteSql(db), name: dir }
}

async function run(tool: Tool, argv: string[], body: (sql: Sql, name: string, file: string | undefined) => Promise<void>): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: { 'database-url': { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: tool !== 'migrate',
      strict: true,
    })
  } catch (err) {
    console.error(usageMistake(tool, (err as Error).message))
    return 2
  }
  if (parsed.values.help === true) {
    console.log(USAGE[tool])
    return 0
  }
  if (parsed.positionals.length > 1) {
    console.error(usageMistake(tool, 'one file at most'))
    return 2
  }
  const file = parsed.positionals[0] === '-' ? undefined : parsed.positionals[0]
  const target = await openTarget(parsed.values, tool !== 'export')
  try {
    await body(target.sql, target.name, file)
  } finally {
    await target.sql.close()
  }
  return 0
}

function summary(counts: Record<string, number>): string {
  const rows = Object.values(counts).reduce((a, b) => a + b, 0)
  return `${rows} rows (${Object.entries(counts).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'})`
}

/** `leakgate migrate`. */
export async function migrate(argv: string[]): Promise<number> {
  return run('migrate', argv, async (sql, name) => {
    const version = await schemaVersion(sql)
    console.log(version)
    console.error(`the store in ${name} is at schema version ${version}`)
  })
}

/** `leakgate export`. */
export async function exportMain(argv: string[]): Promise<number> {
  return run('export', argv, async (sql, name, file) => {
    const out = file === undefined ? process.stdout : createWriteStream(file, { flags: 'wx', mode: 0o600 })
    if (file !== undefined) await once(out, 'open')
    const counts = await exportStore(sql, async (line) => {
      // Respect backpressure, so a large store streams instead of piling up in memory.
      if (!out.write(`${line}\n`)) await once(out, 'drain')
    })
    if (file !== undefined) {
      out.end()
      await once(out, 'finish')
    }
    console.error(`exported ${summary(counts)} from ${name}`)
  })
}

/** `leakgate import`. */
export async function importMain(argv: string[]): Promise<number> {
  return run('import', argv, async (sql, name, file) => {
    const input = file === undefined ? process.stdin : createReadStream(file)
    const counts = await importStore(sql, createInterface({ input, crlfDelay: Infinity }))
    console.error(`imported ${summary(counts)} into ${name}`)
  })
}
