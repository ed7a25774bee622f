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

/** Leaks kept in the sample: estimates to about ±2 % of the store, a search's cost in memory ≈ 1 ms. */
export const SAMPLE_SIZE = 4_000
/** A sample is read again after this long, or once the store has grown or shrunk by a fifth. */
const SAMPLE_MAX_AGE_MS = 10 * 60_000
const SAMPLE_DRIFT = 0.2

interface SampleRow {
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
  /** About how many leaks of the store match the search and the filters. */
  matches: number
  /**
   * The text's trigrams the GIN index can serve alone (three letters or digits, which pg_trgm keeps
   * whole), rarest first, each with the share of sampled leaks holding it; empty when the text has none.
   */
  rarest: Array<{ trigram: string; share: number }>
}

/** A random sample of the leaks' search texts and filter columns, with the store's size when it was read. */
export class SearchSample {
  readonly #rows: readonly SampleRow[]
  readonly storeSize: number
  readonly readAt: number

  constructor(rows: readonly SampleRow[], storeSize: number, readAt: number) {
    this.#rows = rows
    this.storeSize = storeSize
    this.readAt = readAt
  }

  /** Reads a sample of about `SAMPLE_SIZE` leaks: every leak of a small store, else pages drawn at random. */
  static async read(sql: Sql, storeSize: number): Promise<SearchSample> {
    const columns = 'search_text, status, risk, source, action, kind, rotation'
    // TABLESAMPLE SYSTEM draws whole pages (tens of leaks each, neighbours in time): a few hundred
    // random page reads, where BERNOULLI would read the whole table for the same number of rows.
    const rows = storeSize <= SAMPLE_SIZE
      ? await sql.all<SampleRow>(`SELECT ${columns} FROM leaks`)
      : await sql.all<SampleRow>(`SELECT ${columns} FROM leaks TABLESAMPLE SYSTEM (${Math.min(100, (100 * SAMPLE_SIZE) / storeSize).toFixed(4)})`)
    return new SearchSample(rows, storeSize, Date.now())
  }

  /** Whether a store of `storeSize` leaks at `now` needs a new sample. */
  stale(storeSize: number, now: number): boolean {
    if (now - this.readAt > SAMPLE_MAX_AGE_MS) return true
    if (this.storeSize <= SAMPLE_SIZE || storeSize <= SAMPLE_SIZE) return storeSize !== this.storeSize
    return Math.abs(storeSize - this.storeSize) > SAMPLE_DRIFT * this.storeSize
  }

  /** Estimates the leaks matching `filter` with the search `text` (lowercase) in a store of `storeSize`. */
  estimate(filter: LeakFilter, text: string, storeSize: number): SearchEstimate {
    const given = FILTERS.filter((f) => filter[f] !== undefined)
    let matching = 0
    for (const row of this.#rows) {
      if (given.every((f) => row[f] === filter[f]) && row.search_text.includes(text)) matching++
    }
    const scale = this.#rows.length === 0 ? 0 : storeSize / this.#rows.length
    const trigrams = new Set<string>()
    for (let i = 0; i + 3 <= text.length; i++) {
      const t = text.slice(i, i + 3)
      if (/^[a-z0-9]{3}$/.test(t)) trigrams.add(t)
    }
    const sampled = Math.max(1, this.#rows.length)
    const rarest = [...trigrams].map((trigram) => ({ trigram, share: this.#rows.reduce((n, row) => (row.search_text.includes(trigram) ? n + 1 : n), 0) / sampled }))
    rarest.sort((a, b) => a.share - b.share)
    return { matches: Math.round(matching * scale), rarest }
  }
}

/**
 * Keeps one store's sample: read on first use (that search waits for it), then read again in the
 * background when stale, searches meanwhile planned from the one before. A plan only chooses how to read;
 * every search's answer is exact whatever the sample says.
 */
export class SearchSampler {
  readonly #sql: Sql
  #sample: SearchSample | undefined
  #reading: Promise<SearchSample> | undefined

  constructor(sql: Sql) {
    this.#sql = sql
  }

  async get(storeSize: number): Promise<SearchSample> {
    const sample = this.#sample
    if (sample !== undefined && !sample.stale(storeSize, Date.now())) return sample
    this.#reading ??= SearchSample.read(this.#sql, storeSize).then(
      (read) => { this.#sample = read; return read },
    ).finally(() => { this.#reading = undefined })
    if (sample === undefined) return this.#reading
    // A failed read in the background is tried again by the next search; this one has its plan.
    this.#reading.catch(() => {})
    return sample
  }
}
