/**
 * How a search reads its leaks on PostgreSQL. The store's trigram index (pg_trgm GIN over `search_text`)
 * finds a rare text at once, but for a text in every tenth leak it builds the bitmap of every match
 * before the first row, and it intersects every trigram of the text, including those in nearly every
 * leak (`org`, `rep`, `po-` of a repository's name): 0.3–4 s at a million leaks. The planner cannot
 * tell these apart (pg_trgm keeps no frequencies). A random sample of the leaks, kept in memory, can:
 * it estimates how many leaks hold the text (with the list's filters) and which of its trigrams are
 * rarest. SQLite does the same from its FTS5 index's own counts (`leak-list.ts`).
 */
import type { LeakFilter } from './leak-types.js'
import type { Sql } from './sql.js'

/** Leaks kept in the sample: estimates to a few per cent of the store, a search's cost in memory ≈ 1 ms. */
export const SAMPLE_SIZE = 4_000
/** A sample is read again after this long, once the store has grown or shrunk by a fifth, or changed much. */
const SAMPLE_MAX_AGE_MS = 10 * 60_000
const SAMPLE_DRIFT = 0.2
/** Standard errors below the estimate that its lower bound takes (one in ~30 000 falls under it). */
const LOWER_BOUND_ERRORS = 4

interface SampleRow {
  /** The table page the leak was on: the sample draws pages, so its errors are counted by page. */
  block: number
  search_text: string
  status: string
  risk: string
  source: string
  action: string
  kind: string | null
  rotation: string | null
}

/** The filters a sampled leak is compared on (the list's, but for the search text). */
const FILTERS = ['status', 'risk', 'source', 'action', 'kind', 'rotation'] as const

/** What the sample says of a search. */
export interface SearchEstimate {
  /** About how many leaks match the search and the filters, when the sample was read. */
  matches: number
  /**
   * How many at least, then, but for a chance in ~30 000 (the estimate less four standard errors,
   * counted by sampled page, since leaks on one page are alike: one scan's leaks sit together).
   */
  atLeast: number
  /**
   * The text's trigrams the GIN index can serve alone (three letters or digits, which pg_trgm keeps
   * whole), rarest first, each with the share of sampled leaks holding it; empty when the text has none.
   */
  rarest: Array<{ trigram: string; share: number }>
}

/**
 * A random sample of the leaks' search texts and filter columns, with the store's size and the newest
 * event (each change to a leak records one) when it was read.
 */
export class SearchSample {
  readonly #rows: readonly SampleRow[]
  readonly #pages: number
  readonly storeSize: number
  readonly lastEvent: number
  readonly readAt: number

  constructor(rows: readonly SampleRow[], storeSize: number, lastEvent: number, readAt: number) {
    this.#rows = rows
    this.#pages = new Set(rows.map((r) => r.block)).size
    this.storeSize = storeSize
    this.lastEvent = lastEvent
    this.readAt = readAt
  }

  /** Reads a sample of about `SAMPLE_SIZE` leaks: every leak of a small store, else pages drawn at random. */
  static async read(sql: Sql, storeSize: number): Promise<SearchSample> {
    const lastEvent = await newestEvent(sql)
    const columns = '(ctid::text::point)[0]::bigint AS block, search_text, status, risk, source, action, kind, rotation'
    // TABLESAMPLE SYSTEM draws whole pages (tens of leaks each, neighbours in time): a few hundred
    // random page reads, where BERNOULLI would read the whole table for the same number of rows.
    const rows = storeSize <= SAMPLE_SIZE
      ? await sql.all<SampleRow>(`SELECT ${columns} FROM leaks`)
      : await sql.all<SampleRow>(`SELECT ${columns} FROM leaks TABLESAMPLE SYSTEM (${Math.min(100, (100 * SAMPLE_SIZE) / storeSize).toFixed(4)})`)
    return new SearchSample(rows.map((r) => ({ ...r, block: Number(r.block) })), storeSize, lastEvent, Date.now())
  }

  /** Whether a store of `storeSize` leaks whose newest event is `lastEvent` needs a new sample at `now`. */
  stale(storeSize: number, lastEvent: number, now: number): boolean {
    if (now - this.readAt > SAMPLE_MAX_AGE_MS) return true
    if (lastEvent - this.lastEvent > SAMPLE_DRIFT * Math.max(this.storeSize, SAMPLE_SIZE)) return true
    if (this.storeSize <= SAMPLE_SIZE || storeSize <= SAMPLE_SIZE) return storeSize !== this.storeSize
    return Math.abs(storeSize - this.storeSize) > SAMPLE_DRIFT * this.storeSize
  }

  /**
   * Estimates the leaks matching `filter` with the search `text` (lowercase), given how many match the
   * filters alone (`filterMatches`, counted exactly beside the leaks): the share of the sampled leaks
   * matching the filters that hold the text, times that count.
   */
  estimate(filter: LeakFilter, text: string, filterMatches: number): SearchEstimate {
    const given = FILTERS.filter((f) => filter[f] !== undefined)
    const byPage = new Map<number, { x: number; y: number }>()
    let x = 0
    let y = 0
    for (const row of this.#rows) {
      if (!given.every((f) => row[f] === filter[f])) continue
      const holds = row.search_text.includes(text)
      const page = byPage.get(row.block) ?? { x: 0, y: 0 }
      page.x++
      x++
      if (holds) { page.y++; y++ }
      byPage.set(row.block, page)
    }
    const trigrams = new Set<string>()
    for (let i = 0; i + 3 <= text.length; i++) {
      const t = text.slice(i, i + 3)
      if (/^[a-z0-9]{3}$/.test(t)) trigrams.add(t)
    }
    const sampled = Math.max(1, this.#rows.length)
    const rarest = [...trigrams].map((trigram) => ({ trigram, share: this.#rows.reduce((n, row) => (row.search_text.includes(trigram) ? n + 1 : n), 0) / sampled }))
    rarest.sort((a, b) => a.share - b.share)
    if (x === 0) return { matches: 0, atLeast: 0, rarest }
    // A ratio estimate over pages drawn at random: its variance from each page's residual (the text's
    // leaks it has, less the ratio times the filters' leaks it has); pages with none add nothing.
    const ratio = y / x
    let residuals = 0
    for (const page of byPage.values()) residuals += (page.y - ratio * page.x) ** 2
    const n = this.#pages
    const error = n > 1 ? Math.sqrt((n / (n - 1)) * residuals) / x : ratio
    return {
      matches: Math.round(ratio * filterMatches),
      atLeast: Math.max(0, Math.floor((ratio - LOWER_BOUND_ERRORS * error) * filterMatches)),
      rarest,
    }
  }
}

/** The newest event's id: every change to a leak (created, decided, risk, rotation, sighted) records one. */
export async function newestEvent(sql: Sql): Promise<number> {
  return Number((await sql.get<{ n: number | string }>('SELECT coalesce(max(id), 0) AS n FROM events'))?.n ?? 0)
}

/**
 * Keeps one store's sample: read on first use (that search waits for it), then read again in the
 * background when stale, searches meanwhile planned from the one before. A plan chooses how to read; the
 * leaks found are exact whatever the sample says, and so is the total but for one case: a total the
 * sample puts far past the bound (`leak-list.ts`).
 */
export class SearchSampler {
  readonly #sql: Sql
  #sample: SearchSample | undefined
  #reading: Promise<SearchSample> | undefined

  constructor(sql: Sql) {
    this.#sql = sql
  }

  async get(storeSize: number, lastEvent: number): Promise<SearchSample> {
    const sample = this.#sample
    if (sample !== undefined && !sample.stale(storeSize, lastEvent, Date.now())) return sample
    this.#reading ??= SearchSample.read(this.#sql, storeSize).then(
      (read) => { this.#sample = read; return read },
    ).finally(() => { this.#reading = undefined })
    if (sample === undefined) return this.#reading
    // A failed read in the background is tried again by the next search; this one has its plan.
    this.#reading.catch(() => {})
    return sample
  }
}
