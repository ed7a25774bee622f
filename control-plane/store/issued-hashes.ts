/**
 * The SHA-256s of the live tokens the organisation issued (`POST /v1/issued-hashes`): a token found in
 * public content whose hash is among them is a leak of ours, whatever its format. Only hashes are
 * kept, in the store's form (keyed when the store is, so they compare with the stored hashes of what
 * public sources find); never a token.
 */
import type { StoredHashes } from './hash-key.js'
import type { Sql } from './sql.js'

/** What an upload changed, and what the set holds after it. */
export interface IssuedHashCounts {
  added: number
  removed: number
  total: number
}

/** Hashes a statement takes at once (both engines' parameter limits are far above). */
const CHUNK = 500

/**
 * The `meta` keys of the set's generation: `changes` rises with every write that changes the set,
 * `removals` with every write that removes a hash, in the write's own transaction, so a reader holding
 * a copy of the set in memory (the public sources' filter) learns with one indexed read whether its
 * copy is stale, and whether adding the new rows is enough, whichever process wrote.
 */
const CHANGES_KEY = 'issued_hashes_generation'
const REMOVALS_KEY = 'issued_hashes_removals'

/** Where the set stands (both 0 before its first change). */
export interface IssuedGeneration {
  /** Rises with every write that adds or removes a hash. */
  changes: number
  /** Rises with every write that removes one. */
  removals: number
}

/** The issued-token hash set. */
export class IssuedHashRepo {
  readonly #sql: Sql
  readonly #hashes: StoredHashes
  readonly #write: <T>(fn: () => Promise<T>) => Promise<T>

  constructor(sql: Sql, hashes: StoredHashes, write: <T>(fn: () => Promise<T>) => Promise<T>) {
    this.#sql = sql
    this.#hashes = hashes
    this.#write = write
  }

  /** How many hashes the set holds. */
  async count(): Promise<number> {
    return (await this.#sql.get<{ n: number }>('SELECT count(*) AS n FROM issued_hashes'))?.n ?? 0
  }

  /**
   * Adds `sha256s` (64 hex characters each, checked by the caller); with `replace`, the set becomes
   * exactly them. One transaction: a failure changes nothing.
   */
  async add(sha256s: readonly string[], options: { replace?: boolean } = {}): Promise<IssuedHashCounts> {
    const stored = [...new Set(sha256s.map((h) => this.#hashes.of(h)))]
    return this.#write(async () => {
      const now = new Date().toISOString()
      let removed = 0
      if (options.replace === true) {
        // Only what the new list lacks goes: a hash in both keeps its row.
        const keep = new Set(stored)
        const held = await this.#sql.all<{ id: number; sha256: string }>('SELECT id, sha256 FROM issued_hashes')
        const gone = held.filter((r) => !keep.has(r.sha256)).map((r) => r.id)
        for (let i = 0; i < gone.length; i += CHUNK) {
          const chunk = gone.slice(i, i + CHUNK)
          removed += (await this.#sql.run(`DELETE FROM issued_hashes WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk)).changes
        }
      }
      let added = 0
      for (let i = 0; i < stored.length; i += CHUNK) {
        const chunk = stored.slice(i, i + CHUNK)
        added += (await this.#sql.run(
          `INSERT INTO issued_hashes (sha256, added_at) VALUES ${chunk.map(() => '(?, ?)').join(', ')} ON CONFLICT (sha256) DO NOTHING`,
          chunk.flatMap((h) => [h, now]))).changes
      }
      if (added + removed > 0) await this.#bump(removed > 0)
      return { added, removed, total: await this.count() }
    })
  }

  /** Removes `sha256s` from the set (a token revoked: its leak would no longer matter). */
  async remove(sha256s: readonly string[]): Promise<IssuedHashCounts> {
    const stored = [...new Set(sha256s.map((h) => this.#hashes.of(h)))]
    return this.#write(async () => {
      let removed = 0
      for (let i = 0; i < stored.length; i += CHUNK) {
        const chunk = stored.slice(i, i + CHUNK)
        removed += (await this.#sql.run(`DELETE FROM issued_hashes WHERE sha256 IN (${chunk.map(() => '?').join(', ')})`, chunk)).changes
      }
      if (removed > 0) await this.#bump(true)
      return { added: 0, removed, total: await this.count() }
    })
  }

  /**
   * The set's generation: it changes with every write that adds or removes a hash (in this process or
   * another sharing the database); 0 before the first.
   */
  async generation(): Promise<IssuedGeneration> {
    const rows = await this.#sql.all<{ key: string; value: number }>('SELECT key, value FROM meta WHERE key IN (?, ?)', [CHANGES_KEY, REMOVALS_KEY])
    const of = (key: string): number => Number(rows.find((r) => r.key === key)?.value ?? 0)
    return { changes: of(CHANGES_KEY), removals: of(REMOVALS_KEY) }
  }

  /**
   * Calls `fn` with the set's hashes (stored form) whose row id is above `after`, a page at a time, in
   * id order; returns the last id read (`after` when none). Pages are separate reads: a write between
   * two of them raises the generation, so a copy built this way from a generation read BEFORE the first
   * page is at worst older than it says, never newer.
   */
  async forEachPage(fn: (stored: readonly string[]) => void, after = 0, pageSize = 10_000): Promise<number> {
    let last = after
    for (;;) {
      const rows = await this.#sql.all<{ id: number; sha256: string }>('SELECT id, sha256 FROM issued_hashes WHERE id > ? ORDER BY id LIMIT ?', [last, pageSize])
      if (rows.length > 0) fn(rows.map((r) => r.sha256))
      last = rows.at(-1)?.id ?? last
      if (rows.length < pageSize) return last
    }
  }

  async #bump(removal: boolean): Promise<void> {
    for (const key of removal ? [CHANGES_KEY, REMOVALS_KEY] : [CHANGES_KEY]) {
      await this.#sql.run('INSERT INTO meta (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = meta.value + 1', [key])
    }
  }

  /** Of `stored` (hashes in the store's form), those in the set. */
  async matching(stored: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(stored)]
    const out = new Set<string>()
    for (let i = 0; i < all.length; i += CHUNK) {
      const chunk = all.slice(i, i + CHUNK)
      const rows = await this.#sql.all<{ sha256: string }>(`SELECT sha256 FROM issued_hashes WHERE sha256 IN (${chunk.map(() => '?').join(', ')})`, chunk)
      for (const r of rows) out.add(r.sha256)
    }
    return out
  }
}
