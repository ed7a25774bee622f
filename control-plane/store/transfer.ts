/**
 * Moving a whole store between engines (`leakgate export` / `leakgate import`): newline-delimited
 * JSON, one header line (`{format, schema, ...}`), then one `{table, row}` line per row, tables in
 * dependency order (a row's foreign keys point to rows already written), each table in key order.
 *
 * Written against the `Sql` seam with table-generic SQL, so either engine exports and either imports.
 * Nothing secret moves, because the store holds none: tokens and API keys are stored as hashes
 * (and token previews, which show a few characters only).
 */
import { StoreImportError } from '../../lib/errors.js'
import type { Sql, SqlValue } from './sql.js'

/** The export file's format name and version (the header's `format` and `formatVersion`). */
export const EXPORT_FORMAT = 'leakgate-store-export'
export const EXPORT_FORMAT_VERSION = 1

/**
 * Every table of the store (schema_migrations aside: the target's migrations make it), in
 * dependency order, each with the unique key the export pages and orders by. A migration that adds
 * a table adds it here (transfer.test.ts compares this list with the migrated schema).
 */
export const STORE_TABLES: readonly { name: string; key: readonly string[] }[] = [
  { name: 'meta', key: ['key'] },
  { name: 'leaks', key: ['id'] },
  { name: 'tokens', key: ['id'] },
  { name: 'leak_tokens', key: ['leak_id', 'token_id'] },
  { name: 'decisions', key: ['id'] },
  { name: 'index_entries', key: ['sha256'] },
  { name: 'changes', key: ['rev'] },
  { name: 'sightings', key: ['id'] },
  { name: 'leak_seen_by', key: ['leak_id', 'node_id'] },
  { name: 'nodes', key: ['id'] },
  { name: 'api_keys', key: ['hash'] },
  { name: 'scans', key: ['id'] },
  { name: 'scan_state', key: ['source_key'] },
  { name: 'hash_key', key: ['id'] },
  { name: 'events', key: ['id'] },
  { name: 'webhooks', key: ['id'] },
  { name: 'webhook_deliveries', key: ['id'] },
  { name: 'sessions', key: ['id'] },
  { name: 'oidc_logins', key: ['state_hash'] },
  { name: 'public_source_cursors', key: ['source_id'] },
  { name: 'public_seen_content', key: ['content_sha256'] },
  { name: 'public_places', key: ['id'] },
  { name: 'issued_hashes', key: ['id'] },
  { name: 'public_other_findings', key: ['id'] },
]

/** The export's first line. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT
  formatVersion: number
  /** The store's schema version: an import needs a target at the same version. */
  schema: number
  /** The engine exported from. */
  from: Sql['dialect']
  exportedAt: string
}

/** Rows a page of the export reads at once. */
const PAGE_ROWS = 1000
/** Rows an import inserts with one statement (columns × rows stays under both engines' parameter limits). */
const INSERT_ROWS = 200

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

/** The store's schema version (0 for a database no migration has touched). */
export async function schemaVersion(sql: Sql): Promise<number> {
  const exists = sql.dialect === 'sqlite'
    ? await sql.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    : await sql.get("SELECT 1 AS x FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'")
  if (exists === undefined) return 0
  return (await sql.get<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations'))?.v ?? 0
}

/** The columns of a table, in the table's order. */
export async function tableColumns(sql: Sql, table: string): Promise<string[]> {
  const rows = sql.dialect === 'sqlite'
    ? await sql.all<{ name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid', [table])
    : await sql.all<{ name: string }>('SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position', [table])
  return rows.map((r) => r.name)
}

/**
 * Tables the store derives from the others, kept by triggers (`leak_counts`, `index_size`, `public_other_findings_count`; on SQLite the search's
 * `leaks_fts` and its own tables): not exported, since an import's inserts make them again.
 */
export function isDerivedTable(name: string): boolean {
  return name === 'leak_counts' || name === 'index_size' || name === 'public_other_findings_count' || name === 'leaks_fts' || name.startsWith('leaks_fts_')
}

/** The store's tables (without the engine's own, schema_migrations and the derived ones), sorted by name. */
export async function storeTableNames(sql: Sql): Promise<string[]> {
  const rows = sql.dialect === 'sqlite'
    ? await sql.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    : await sql.all<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
  return rows.map((r) => r.name).filter((n) => n !== 'schema_migrations' && !isDerivedTable(n)).sort()
}

/** How many rows each table holds. */
export async function tableCounts(sql: Sql): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const { name } of STORE_TABLES) {
    counts[name] = (await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${name}`))?.n ?? 0
  }
  return counts
}

/**
 * Writes the store as export lines (each without its newline) to `write`, inside one transaction so
 * that no write transaction changes the store halfway; returns how many rows each table gave.
 */
export async function exportStore(sql: Sql, write: (line: string) => Promise<void> | void): Promise<Record<string, number>> {
  return sql.transaction(async () => {
    const header: ExportHeader = {
      format: EXPORT_FORMAT, formatVersion: EXPORT_FORMAT_VERSION, schema: await schemaVersion(sql), from: sql.dialect, exportedAt: new Date().toISOString(),
    }
    await write(JSON.stringify(header))
    const counts: Record<string, number> = {}
    for (const { name, key } of STORE_TABLES) {
      counts[name] = 0
      const order = key.join(', ')
      let after: SqlValue[] | undefined
      for (;;) {
        // Keyset pages: each page starts after the last key read, so a large table costs no more per page.
        const rows = after === undefined
          ? await sql.all<Record<string, unknown>>(`SELECT * FROM ${name} ORDER BY ${order} LIMIT ${PAGE_ROWS}`)
          : await sql.all<Record<string, unknown>>(`SELECT * FROM ${name} WHERE (${order}) > (${key.map(() => '?').join(', ')}) ORDER BY ${order} LIMIT ${PAGE_ROWS}`, after)
        for (const row of rows) {
          for (const [column, value] of Object.entries(row)) {
            if (value !== null && typeof value !== 'string' && typeof value !== 'number') {
              throw new TypeError(`${name}.${column} holds a value export cannot write (${typeof value})`)
            }
          }
          await write(JSON.stringify({ table: name, row }))
        }
        counts[name] += rows.length
        const last = rows.at(-1)
        if (rows.length < PAGE_ROWS || last === undefined) break
        after = key.map((k) => last[k] as SqlValue)
      }
    }
    return counts
  })
}

/** Reads and checks the header line. */
function parseHeader(line: string | undefined): ExportHeader {
  let header: Partial<ExportHeader> | undefined
  try {
    header = line === undefined ? undefined : (JSON.parse(line) as Partial<ExportHeader>)
  } catch {
    header = undefined
  }
  if (header?.format !== EXPORT_FORMAT || typeof header.schema !== 'number') {
    throw new StoreImportError('the input is not a Leakgate store export (its first line is not an export header)')
  }
  if (header.formatVersion !== EXPORT_FORMAT_VERSION) {
    throw new StoreImportError(`the export's format version is ${String(header.formatVersion)}, this Leakgate reads ${EXPORT_FORMAT_VERSION}`)
  }
  return header as ExportHeader
}

/** Refuses a target holding anything more than its migrations made. */
async function checkEmpty(sql: Sql): Promise<void> {
  for (const { name } of STORE_TABLES) {
    if (name === 'meta') {
      const moved = await sql.get("SELECT key FROM meta WHERE key IN ('revision', 'pruned_through') AND value <> 0 LIMIT 1")
      if (moved !== undefined) throw new StoreImportError('the target store is not empty (its revision is not 0); import only into a new, migrated store')
      continue
    }
    if ((await sql.get(`SELECT 1 AS x FROM ${name} LIMIT 1`)) !== undefined) {
      throw new StoreImportError(`the target store is not empty (table ${name} has rows); import only into a new, migrated store`)
    }
  }
}

/**
 * Imports export lines into `sql`, an empty store migrated to the export's schema version, in one
 * transaction (all or nothing); returns how many rows each table received. On PostgreSQL the
 * identity sequences are moved past the imported ids, so the next insert does not collide.
 */
export async function importStore(sql: Sql, lines: AsyncIterable<string>): Promise<Record<string, number>> {
  const iterator = lines[Symbol.asyncIterator]()
  const first = await iterator.next()
  const header = parseHeader(first.done === true ? undefined : first.value)
  const target = await schemaVersion(sql)
  if (target !== header.schema) {
    throw new StoreImportError(`the export has schema version ${header.schema} and the target store ${target}; migrate both to the same Leakgate version first (leakgate migrate)`)
  }
  const order = new Map(STORE_TABLES.map((t, i) => [t.name, i]))
  return sql.transaction(async () => {
    await checkEmpty(sql)
    const counts: Record<string, number> = Object.fromEntries(STORE_TABLES.map((t) => [t.name, 0]))
    const columnsOf = new Map<string, Set<string>>()
    let position = -1
    let batch: { table: string; columns: string[]; rows: SqlValue[][] } | undefined
    const flush = async (): Promise<void> => {
      if (batch === undefined || batch.rows.length === 0) return
      const { table, columns, rows } = batch
      const tuple = `(${columns.map(() => '?').join(', ')})`
      const upsert = table === 'meta' ? ' ON CONFLICT (key) DO UPDATE SET value = excluded.value' : ''
      await sql.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}${upsert}`, rows.flat())
      counts[table] = (counts[table] ?? 0) + rows.length
      batch = undefined
    }
    let lineNo = 1
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      lineNo++
      if (next.value.trim() === '') continue
      let parsed: { table?: unknown; row?: unknown }
      try {
        parsed = JSON.parse(next.value) as { table?: unknown; row?: unknown }
      } catch {
        throw new StoreImportError(`line ${lineNo} is not JSON`)
      }
      const { table, row } = parsed
      const at = typeof table === 'string' ? order.get(table) : undefined
      if (typeof table !== 'string' || at === undefined || row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new StoreImportError(`line ${lineNo} is not a row of a store table`)
      }
      if (at < position) throw new StoreImportError(`line ${lineNo}: table ${table} comes after tables that depend on it`)
      position = at
      let known = columnsOf.get(table)
      if (known === undefined) {
        known = new Set(await tableColumns(sql, table))
        columnsOf.set(table, known)
      }
      const columns = Object.keys(row)
      for (const c of columns) {
        if (!IDENTIFIER.test(c) || !known.has(c)) throw new StoreImportError(`line ${lineNo}: table ${table} has no column ${JSON.stringify(c)}`)
      }
      const values = Object.values(row as Record<string, unknown>)
      if (values.some((v) => v !== null && typeof v !== 'string' && typeof v !== 'number')) {
        throw new StoreImportError(`line ${lineNo}: a value of table ${table} is neither text, a number nor null`)
      }
      if (batch !== undefined && (batch.table !== table || batch.columns.join() !== columns.join() || batch.rows.length >= INSERT_ROWS)) await flush()
      batch ??= { table, columns, rows: [] }
      batch.rows.push(values as SqlValue[])
    }
    await flush()
    if (sql.dialect === 'postgres') await resetIdentities(sql)
    return counts
  })
}

/** Moves every identity sequence past its column's largest value (an import gives ids explicitly). */
async function resetIdentities(sql: Sql): Promise<void> {
  const identities = await sql.all<{ t: string; c: string }>(
    "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
  )
  for (const { t, c } of identities) {
    if (!IDENTIFIER.test(t) || !IDENTIFIER.test(c)) continue
    await sql.get(`SELECT setval(pg_get_serial_sequence(?, ?), (SELECT coalesce(max(${c}), 0) + 1 FROM ${t}), false)`, [t, c])
  }
}
