/**
 * The leak list: filters, sort and cursor paging. The cursor carries the sort it was made for
 * (`cursor.ts`), and every order ends on the id, so pages neither skip nor repeat a leak.
 */
import { decodeCursor, encodeCursor } from './cursor.js'
import { SELECT_LEAK, toLeak, type LeakRow } from './leak-records.js'
import type { Leak, LeakExportRow, LeakFacets, LeakFilter, LeakQuery, LeakSort } from './leak-types.js'
import type { Sql, SqlValue } from './sql.js'

const SORT_SQL: Record<LeakSort, string> = {
  createdAt: 'l.created_at',
  updatedAt: 'l.updated_at',
  risk: 'l.risk_rank',
  hits: 'l.hits',
  lastSeenAt: "coalesce(l.last_seen_at, '')",
  title: 'l.title',
}

/** The SQL conditions (on the table as `l`) and their parameters for the list's filters. */
export function filterSql(query: LeakFilter): { where: string[]; params: Record<string, SqlValue> } {
  const where: string[] = []
  const params: Record<string, SqlValue> = {}
  if (query.status !== undefined) { where.push('l.status = @status'); params.status = query.status }
  if (query.risk !== undefined) { where.push('l.risk = @risk'); params.risk = query.risk }
  if (query.source !== undefined) { where.push('l.source = @source'); params.source = query.source }
  if (query.action !== undefined) { where.push('l.action = @action'); params.action = query.action }
  if (query.kind !== undefined) { where.push('l.kind = @kind'); params.kind = query.kind }
  if (query.rotation !== undefined) { where.push('l.rotation = @rotation'); params.rotation = query.rotation }
  if (query.q !== undefined && query.q !== '') {
    // A substring test both engines have (SQLite has no strpos, PostgreSQL no instr): LIKE with the
    // pattern's own wildcards escaped. Both sides are lowercase, so LIKE's case rules do not matter.
    where.push("l.search_text LIKE @q ESCAPE '\\'")
    params.q = `%${query.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  }
  return { where, params }
}

/** How many leaks match the filters. */
export async function countLeaks(sql: Sql, query: LeakFilter): Promise<number> {
  const { where, params } = filterSql(query)
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
  return Number((await sql.get<{ n: number }>(`SELECT count(*) AS n FROM leaks l ${filter}`, params))?.n ?? 0)
}

/** One page of leaks, with the total matching the filters. */
export async function listLeaks(sql: Sql, query: LeakQuery): Promise<{ items: Leak[]; nextCursor: string | null; total: number }> {
  const { where, params } = filterSql(query)
  const total = await countLeaks(sql, query)

  const sort: LeakSort = query.sort ?? 'createdAt'
  const desc = (query.order ?? 'desc') === 'desc'
  const expr = SORT_SQL[sort]
  const cursorKey = `${sort}:${desc ? 'desc' : 'asc'}`
  const paged = [...where]
  if (query.cursor !== undefined) {
    const c = decodeCursor(query.cursor, cursorKey)
    const cmp = desc ? '<' : '>'
    paged.push(`(${expr} ${cmp} @cv OR (${expr} = @cv AND l.id ${cmp} @cid))`)
    params.cv = c.value
    params.cid = c.id
  }
  const limit = query.limit ?? 50
  const dir = desc ? 'DESC' : 'ASC'
  const rows = await sql.all<LeakRow>(`
    ${SELECT_LEAK} ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
    ORDER BY ${expr} ${dir}, l.id ${dir} LIMIT @limit`, { ...params, limit: limit + 1 })
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(cursorKey, sortValue(last, sort), last.id) : null
  return { items: page.map(toLeak), nextCursor, total }
}

function sortValue(row: LeakRow, sort: LeakSort): string | number {
  switch (sort) {
    case 'createdAt': return row.created_at
    case 'updatedAt': return row.updated_at
    case 'risk': return row.risk_rank
    case 'hits': return row.hits
    case 'lastSeenAt': return row.last_seen_at ?? ''
    case 'title': return row.title
  }
}

/** At most this many values of each facet: the list's choices, not a report. */
const FACET_VALUES = 500

/**
 * The distinct sources and kinds over all leaks, most leaks first. Two GROUP BYs on one column each,
 * which an index on that column answers without reading the rows.
 */
export async function leakFacets(sql: Sql): Promise<LeakFacets> {
  const sources = await sql.all<{ value: string; n: number }>(
    'SELECT source AS value, count(*) AS n FROM leaks GROUP BY source ORDER BY n DESC, value ASC LIMIT ?', [FACET_VALUES])
  const kinds = await sql.all<{ value: string; n: number }>(
    'SELECT kind AS value, count(*) AS n FROM leaks WHERE kind IS NOT NULL GROUP BY kind ORDER BY n DESC, value ASC LIMIT ?', [FACET_VALUES])
  return {
    sources: sources.map((r) => ({ value: r.value, count: Number(r.n) })),
    kinds: kinds.map((r) => ({ value: r.value, count: Number(r.n) })),
  }
}

/** How many hex digits of a token hash the export shows: enough to tell tokens apart and look one up. */
export const EXPORT_HASH_PREFIX = 16
const EXPORT_BATCH = 1000

/**
 * Every leak matching the filters, by rising id, read a batch at a time (each batch its own short
 * query, so a large export holds no transaction open and no more than a batch in memory).
 */
export async function* exportLeaks(sql: Sql, query: LeakFilter): AsyncGenerator<LeakExportRow> {
  const { where, params } = filterSql(query)
  let after = 0
  for (;;) {
    const rows = await sql.all<LeakRow>(`
      SELECT l.* FROM leaks l WHERE ${[...where, 'l.id > @after'].join(' AND ')}
      ORDER BY l.id ASC LIMIT @batch`, { ...params, after, batch: EXPORT_BATCH })
    if (rows.length === 0) return
    const ids = rows.map((r) => r.id)
    const hashes = await sql.all<{ leak_id: number; sha256: string }>(`
      SELECT lt.leak_id AS leak_id, t.sha256 AS sha256 FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id
      WHERE lt.leak_id IN (${ids.map(() => '?').join(', ')}) ORDER BY lt.leak_id, t.sha256`, ids)
    const byLeak = new Map<number, string[]>()
    for (const h of hashes) {
      const list = byLeak.get(Number(h.leak_id)) ?? []
      list.push(h.sha256.slice(0, EXPORT_HASH_PREFIX))
      byLeak.set(Number(h.leak_id), list)
    }
    for (const r of rows) {
      // A scan's fingerprint is kept as the dedupe key "fp:<fingerprint>" (with "#after-<id>" once reopened as a new leak).
      const fingerprint = r.dedupe_key?.startsWith('fp:') === true ? r.dedupe_key.slice(3).replace(/#after-\d+$/, '') : null
      yield {
        id: r.id, title: r.title, kind: r.kind, source: r.source, risk: r.risk, status: r.status, action: r.action, rotation: r.rotation,
        hits: r.hits, createdAt: r.created_at, lastSeenAt: r.last_seen_at, fingerprint, hashPrefixes: byLeak.get(r.id) ?? [],
      }
    }
    after = rows.at(-1)?.id ?? after
    if (rows.length < EXPORT_BATCH) return
  }
}
