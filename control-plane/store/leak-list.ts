/**
 * The leak list: filters, sort and cursor paging. The cursor carries the sort it was made for
 * (`cursor.ts`), and every order ends on the id, so pages neither skip nor repeat a leak.
 */
import { decodeCursor, encodeCursor } from './cursor.js'
import { SELECT_LEAK, toLeak, type LeakRow } from './leak-records.js'
import type { Leak, LeakQuery, LeakSort } from './leak-types.js'
import type { Sql, SqlValue } from './sql.js'

const SORT_SQL: Record<LeakSort, string> = {
  createdAt: 'l.created_at',
  updatedAt: 'l.updated_at',
  risk: 'l.risk_rank',
  hits: 'l.hits',
  lastSeenAt: "coalesce(l.last_seen_at, '')",
  title: 'l.title',
}

/** One page of leaks, with the total matching the filters. */
export async function listLeaks(sql: Sql, query: LeakQuery): Promise<{ items: Leak[]; nextCursor: string | null; total: number }> {
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
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
  const total = (await sql.get<{ n: number }>(`SELECT count(*) AS n FROM leaks l ${filter}`, params))?.n ?? 0

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
