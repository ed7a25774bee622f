/**
 * The leak list: filters, sort and cursor paging. The cursor carries the sort it was made for
 * (`cursor.ts`), and every order ends on the id, so pages neither skip nor repeat a leak.
 */
import { decodeCursor, encodeCursor } from './cursor.js'
import { riskRank } from '../risk.js'
import type { RiskLevel } from '../config.js'
import { countMatching, type CountFilter, type FilterCounts } from './leak-counts.js'
import { SELECT_LEAK, toLeak, type LeakRow } from './leak-records.js'
import type { LeakExportRow, LeakFacets, LeakFilter, LeakPage, LeakQuery, LeakSort } from './leak-types.js'
import { newestEvent, type SearchSampler } from './search-sample.js'
import type { Sql, SqlValue } from './sql.js'

const SORT_SQL: Record<LeakSort, string> = {
  createdAt: 'l.created_at',
  updatedAt: 'l.updated_at',
  risk: 'l.risk_rank',
  hits: 'l.hits',
  lastSeenAt: "coalesce(l.last_seen_at, '')",
  title: 'l.title',
}

/** The same orders as `SORT_SQL`, written so that no index of the sort serves them (the same values). */
const UNINDEXED_SORT_SQL: Record<LeakSort, string> = {
  createdAt: "(l.created_at || '')",
  updatedAt: "(l.updated_at || '')",
  risk: '(l.risk_rank + 0)',
  hits: '(l.hits + 0)',
  lastSeenAt: "(coalesce(l.last_seen_at, '') || '')",
  title: "(l.title || '')",
}

/**
 * Above this many leaks matching its filters, a page is read by walking the sort's index and skipping
 * the leaks that do not match (about `limit × store / matching` rows read); at or below it, from the most
 * selective filter's index, sorting what matches. Either way a page reads some thousands of rows at most.
 */
const WALK_ABOVE = 10_000

/**
 * On PostgreSQL, a page that walks a `(status, sort, id, filters…)` index checking at most this many
 * entries (≈ 0.2 µs each) is read so, whatever filter is selective.
 */
const INDEX_WALK_ENTRIES = 100_000

/**
 * A search's total counts at most this many matches (then says it stopped): an exact count of a common
 * word reads every leak holding it, seconds at a million leaks, for a number no one pages through. It is
 * the bulk decision's limit (`BULK_DECISION_LIMIT`; not imported, that module imports this one), so every
 * search the console can select whole has its exact count.
 */
export const SEARCH_TOTAL_UP_TO = 10_000

/** How the list answers; the control plane's defaults unless a test narrows them. */
export interface ListOptions {
  /** A search's total counts up to this many matches (`SEARCH_TOTAL_UP_TO` by default). */
  searchTotalUpTo?: number | undefined
  /** A filter matching at most this many leaks leads a page's read (`WALK_ABOVE` by default). */
  walkAbove?: number | undefined
  /** PostgreSQL: the store's sample a search is planned from (`search-sample.ts`); without it the planner chooses. */
  searchSampler?: SearchSampler | undefined
}

/** The filters' columns on `leaks`; risk by its rank, so the risk sort's index serves the filter too. */
const FILTER_SQL: ReadonlyArray<readonly [keyof CountFilter, string]> = [
  ['status', 'l.status'],
  ['risk', 'l.risk_rank'],
  ['source', 'l.source'],
  ['action', 'l.action'],
  ['kind', 'l.kind'],
  ['rotation', 'l.rotation'],
]

/**
 * How a page reads its leaks. SQLite: which filter's index leads, and the trigram query a search
 * reads. PostgreSQL (a search planned from the sample): the text tested without the trigram index, and
 * the trigrams, if any, the index finds the candidates by.
 */
interface ReadPlan {
  indexed?: keyof CountFilter | undefined
  match?: string | undefined
  pg?: PostgresSearch | undefined
}

/**
 * How PostgreSQL reads a search. `filter`: a filter few leaks match leads (its index, then the text
 * tested on each). `walk`: a common text: a page walks the sort's index, testing each leak, and the
 * bounded count reads the table in order until the bound. `trigrams`: a rare text: the trigram index
 * finds the leaks holding its rarest trigrams, the text is tested on those, and they are sorted.
 */
interface PostgresSearch {
  by: 'filter' | 'walk' | 'trigrams'
  trigrams: string[]
  /**
   * The sample puts the matches so far past the total's bound that counting them to it (a read of
   * `bound / share` leaks: 200 000 for a text in one open leak in twenty) would only confirm it.
   */
  pastBound: boolean
}

/**
 * The SQL conditions (on the table as `l`) and their parameters for the list's filters. With a `plan`
 * (the list's pages, on SQLite), every filter but the one whose index should lead is kept off its index.
 */
export function filterSql(sql: Sql, query: LeakFilter, plan?: ReadPlan): { where: string[]; params: Record<string, SqlValue> } {
  const search = query.q !== undefined && query.q !== '' ? query.q : undefined
  const where: string[] = []
  const params: Record<string, SqlValue> = {}
  for (const [name, column] of FILTER_SQL) {
    const value = query[name]
    if (value === undefined) continue
    // SQLite plans without statistics: a unary + keeps it off the index of a filter that should not lead.
    const hint = plan !== undefined && sql.dialect === 'sqlite' && name !== plan.indexed ? '+' : ''
    where.push(`${hint}${column} = @${name}`)
    params[name] = name === 'risk' ? riskRank(value as RiskLevel) : value
  }
  if (search !== undefined) {
    // A substring test both engines have (SQLite has no strpos, PostgreSQL no instr): LIKE with the
    // pattern's own wildcards escaped. Both sides are lowercase, so LIKE's case rules do not matter.
    // PostgreSQL reads it from the search text's trigram index when that is the cheaper way, unless the
    // search was planned: then strpos, which no index serves, and the rarest trigrams, if any, as LIKEs.
    if (plan?.pg !== undefined) {
      where.push('strpos(l.search_text, @text) > 0')
      params.text = search.toLowerCase()
      plan.pg.trigrams.forEach((t, i) => {
        where.push(`l.search_text LIKE @tri${i}`)
        params[`tri${i}`] = `%${t}%`
      })
    } else {
      where.push("l.search_text LIKE @q ESCAPE '\\'")
      params.q = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    }
    if (plan?.match !== undefined) {
      // Few leaks hold every trigram of the text: read those (the LIKE above drops any whose trigrams
      // are apart) rather than walk the sort's index through leaks that mostly do not match.
      where.push('l.id IN (SELECT rowid FROM leaks_fts WHERE leaks_fts MATCH @match)')
      params.match = plan.match
    }
  }
  return { where, params }
}

/**
 * How many leaks match the filters: from the counts kept beside the leaks (in the caller's transaction,
 * so a bulk decision's check sees its own view), or counted when a search narrows them.
 */
export async function countLeaks(sql: Sql, query: LeakFilter): Promise<number> {
  if (query.q === undefined || query.q === '') return (await countMatching(sql, query)).matching
  const { where, params } = filterSql(sql, query)
  return Number((await sql.get<{ n: number }>(`SELECT count(*) AS n FROM leaks l WHERE ${where.join(' AND ')}`, params))?.n ?? 0)
}

/** One page of leaks, with the total matching the filters (a search's counted up to a bound). */
export async function listLeaks(sql: Sql, query: LeakQuery, options: ListOptions = {}): Promise<LeakPage> {
  const limit = query.limit ?? 50
  const search = query.q !== undefined && query.q !== '' ? query.q : undefined
  // The counts kept beside the leaks give the total without counting rows, unless a search narrows it,
  // and tell how selective each filter is (which index the page should read).
  const counts = await countMatching(sql, query)
  // On SQLite, a search few leaks can match is read from the trigram index (`leaks_fts`): the filters
  // are then checked on those leaks, none of their indexes used.
  const trigrams = search !== undefined && sql.dialect === 'sqlite' ? await searchTrigrams(sql, search) : undefined
  const fromTrigrams = trigrams?.rare !== undefined
  const selective = selectiveFilter(counts, options.walkAbove ?? WALK_ABOVE)
  // SQLite plans without statistics: the selective filter's index leads, else status's (whose indexes
  // also hold each sort's order). PostgreSQL's planner chooses itself.
  const indexed = fromTrigrams || sql.dialect !== 'sqlite' ? undefined : selective ?? 'status'
  const upTo = options.searchTotalUpTo ?? SEARCH_TOTAL_UP_TO
  const pg = search !== undefined && sql.dialect === 'postgres' && options.searchSampler !== undefined
    ? await planPostgresSearch(sql, options.searchSampler, query, search, counts, selective, upTo)
    : undefined
  const { where, params } = filterSql(sql, query, { indexed, match: trigrams?.rare, pg })
  // A search's total is counted, up to the bound. On SQLite the trigram index leads (the leaks holding
  // the text's trigrams, by id, each checked), so a common word reads about the bound's leaks; else,
  // unless a filter few match leads, leaks are read in table order, not through the status index (a
  // random read a row), until the bound's matches are found. On PostgreSQL the count reads as the
  // search was planned: a common text in table order (the planner's choice for a status most leaks
  // have), a rare one from its rarest trigrams.
  let found = counts.matching
  if (pg?.pastBound === true) {
    found = upTo + 1
  } else if (search !== undefined && trigrams !== undefined) {
    const unindexed = filterSql(sql, query, {})
    found = Number((await sql.get<{ n: number }>(`
      SELECT count(*) AS n FROM (
        SELECT 1 FROM leaks_fts f JOIN leaks l ON l.id = f.rowid
        WHERE leaks_fts MATCH @match AND ${unindexed.where.join(' AND ')} LIMIT ${upTo + 1}
      ) AS m`, { ...unindexed.params, match: trigrams.rare ?? trigrams.all }))?.n ?? 0)
  } else if (search !== undefined) {
    const counted = indexed !== 'status' ? where : where.map((w) => (w.startsWith('l.status =') ? `+${w}` : w))
    found = Number((await sql.get<{ n: number }>(`
      SELECT count(*) AS n FROM (SELECT 1 FROM leaks l WHERE ${counted.join(' AND ')} LIMIT ${upTo + 1}) AS m`, params))?.n ?? 0)
  }
  const totalIsLowerBound = search !== undefined && found > upTo
  const total = totalIsLowerBound ? upTo : found

  const sort: LeakSort = query.sort ?? 'createdAt'
  const desc = (query.order ?? 'desc') === 'desc'
  // PostgreSQL's statistics miss how few leaks a rare kind or source holds among the open ones: it walks
  // the sort's index (status, sort, id) for a page it expects soon and reads a million entries (2–3 s). When
  // the counts say few leaks match a filter, the sort is written so no index serves it: the planner then
  // reads the filter's index and sorts those few.
  // A rare search's few leaks are sorted likewise.
  // Not when a status is given and no search: PostgreSQL's (status, sort, id, filters…) indexes check
  // the other filters on their entries (migration 16), so walking one reads about limit × status's
  // leaks / matching entries and only the page's rows, where the selective filter's index reads every
  // row it holds (2 700 rows, 60–90 ms, for a rare kind at a million leaks; the walk 2–5 ms).
  const walkEntries = query.status !== undefined && search === undefined ? ((limit + 1) * (counts.each.status ?? 0)) / Math.max(1, counts.matching) : Infinity
  const unindexedSort = sql.dialect === 'postgres' && ((selective !== undefined && walkEntries > INDEX_WALK_ENTRIES) || pg?.by === 'trigrams')
  const expr = unindexedSort ? UNINDEXED_SORT_SQL[sort] : SORT_SQL[sort]
  const cursorKey = `${sort}:${desc ? 'desc' : 'asc'}`
  const paged = [...where]
  if (query.cursor !== undefined) {
    const c = decodeCursor(query.cursor, cursorKey)
    // The first term is a range of the (sort, id) index on both engines (a row value is not, on an
    // expression index in SQLite); the second settles ties on the id.
    const cmp = desc ? '<' : '>'
    paged.push(`${expr} ${cmp}= @cv AND (${expr} ${cmp} @cv OR l.id ${cmp} @cid)`)
    params.cv = c.value
    params.cid = c.id
  }
  const dir = desc ? 'DESC' : 'ASC'
  const order = `ORDER BY ${expr} ${dir}, l.id ${dir}`
  // The page's ids first (a sort of keys, not of whole rows with their token counts), then their rows.
  const rows = await sql.all<LeakRow>(`
    ${SELECT_LEAK} WHERE l.id IN (
      SELECT l.id FROM leaks l ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''} ${order} LIMIT @limit
    ) ${order}`, { ...params, limit: limit + 1 })
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(cursorKey, sortValue(last, sort), last.id) : null
  return { items: page.map(toLeak), nextCursor, total, totalIsLowerBound }
}

/**
 * Above this many times the search total's bound, a search's matches are estimated common enough that
 * reading leaks in order (a page along the sort's index, the count along the table, both stopping early)
 * costs less than reading every match from the trigram index: at a million leaks, 30 000 matches are a
 * third of the table read in order (≈ 50 ms) against 30 000 rows from the index's bitmap.
 */
const COMMON_SEARCH_BOUNDS = 3

/**
 * A trigram held by more than this share of the sampled leaks is not worth reading from the index
 * beside a rarer one (its list is a tenth of the store or more); the rarest is read whatever its share.
 */
const TRIGRAM_SHARE_READ = 0.1
/** At most this many trigrams read from the index for a search (the rarest). */
const PG_TRIGRAMS = 3

/** How PostgreSQL reads a search (`PostgresSearch`), from the counts and the store's sample. */
async function planPostgresSearch(
  sql: Sql, sampler: SearchSampler, query: LeakFilter, search: string, counts: FilterCounts, selective: keyof CountFilter | undefined, upTo: number,
): Promise<PostgresSearch> {
  if (selective !== undefined) return { by: 'filter', trigrams: [], pastBound: false }
  const text = search.toLowerCase()
  const lastEvent = await newestEvent(sql)
  const sample = await sampler.get(counts.store, lastEvent)
  const estimate = sample.estimate(query, text, counts.matching)
  const trigrams = estimate.rarest.filter((r, i) => i === 0 || r.share <= TRIGRAM_SHARE_READ).slice(0, PG_TRIGRAMS).map((r) => r.trigram)
  if (trigrams.length > 0 && estimate.matches <= COMMON_SEARCH_BOUNDS * upTo) return { by: 'trigrams', trigrams, pastBound: false }
  // Each change since the sample (one event a leak changed) moves at most one leak in or out of the
  // matches: the lower bound less those changes still holds. Twice the bound leaves room for what no
  // event records (a rescan rewording a leak's place).
  const changes = Math.max(0, lastEvent - sample.lastEvent)
  return { by: 'walk', trigrams: [], pastBound: estimate.atLeast - changes > PAST_BOUND_MARGIN * upTo }
}

/** How far past the bound the sample's lower bound must put a search's matches for the count to be skipped. */
const PAST_BOUND_MARGIN = 2

/**
 * The filter few enough leaks match (at most `WALK_ABOVE`) that a page is best read from its index, the
 * fewest if several. With a search the filters' counts are bounds: reading few candidates is still the
 * cheaper side.
 */
function selectiveFilter(counts: FilterCounts, walkAbove: number): keyof CountFilter | undefined {
  // action has no index of its own (two values, each about half of the leaks).
  const each = (Object.entries(counts.each) as Array<[keyof CountFilter, number]>).filter(([name]) => name !== 'action')
  const fewest = each.sort((a, b) => a[1] - b[1])[0]
  return fewest !== undefined && fewest[1] <= walkAbove ? fewest[0] : undefined
}

/** The rarest trigrams a search's candidates are read by: a rare one narrows as much as all of them. */
const RARE_TRIGRAMS = 3
/** Trigrams of a long search text probed for their rarity, spread over the text. */
const PROBED_TRIGRAMS = 16

/**
 * FTS5 queries (migrations-leak-list.ts: `leaks_fts`, trigrams of the search text) for the leaks that may
 * hold `text`: `all` asks for every trigram; `rare` for the rarest few, when at most `WALK_ABOVE` leaks
 * hold one of them (else the search is common: undefined). Undefined for a text under 3 characters,
 * which has none. Each trigram's rarity is read by counting its leaks up to `WALK_ABOVE + 1`: an AND of
 * every trigram reads each one's whole list, 90 ms at a million leaks for a repository's name.
 */
async function searchTrigrams(sql: Sql, text: string): Promise<{ all: string; rare: string | undefined } | undefined> {
  const chars = Array.from(text.toLowerCase())
  if (chars.length < 3) return undefined
  const set = new Set<string>()
  for (let i = 0; i + 3 <= chars.length; i++) set.add(chars.slice(i, i + 3).join(''))
  const terms = [...set].map((t) => `"${t.replaceAll('"', '""')}"`)
  const step = Math.max(1, terms.length / PROBED_TRIGRAMS)
  const probed: Array<{ term: string; n: number }> = []
  for (let i = 0; i < terms.length; i += step) {
    const term = terms[Math.floor(i)] as string
    const row = await sql.get<{ n: number }>(`SELECT count(*) AS n FROM (SELECT rowid FROM leaks_fts WHERE leaks_fts MATCH @term LIMIT ${WALK_ABOVE + 1})`, { term })
    probed.push({ term, n: Number(row?.n ?? 0) })
  }
  const rare = probed.filter((p) => p.n <= WALK_ABOVE).sort((a, b) => a.n - b.n).slice(0, RARE_TRIGRAMS)
  return { all: terms.join(' AND '), rare: rare.length > 0 ? rare.map((p) => p.term).join(' AND ') : undefined }
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
 * The distinct sources and kinds over all leaks, most leaks first: added up from the counts kept beside
 * the leaks (`leak_counts`, some thousand rows at a million leaks), not counted over the leaks (an index
 * scan of every leak, 110 ms at a million). A null kind is kept there as ''.
 */
export async function leakFacets(sql: Sql): Promise<LeakFacets> {
  const sources = await sql.all<{ value: string; n: number }>(
    'SELECT source AS value, sum(n) AS n FROM leak_counts GROUP BY source ORDER BY n DESC, value ASC LIMIT ?', [FACET_VALUES])
  const kinds = await sql.all<{ value: string; n: number }>(
    "SELECT kind AS value, sum(n) AS n FROM leak_counts WHERE kind <> '' GROUP BY kind ORDER BY n DESC, value ASC LIMIT ?", [FACET_VALUES])
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
  const { where, params } = filterSql(sql, query)
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
