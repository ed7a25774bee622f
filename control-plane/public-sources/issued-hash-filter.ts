/**
 * The issued-hash check of public sources, as the node checks a credential: a blocked bloom filter in
 * memory first (protocol/bloom.ts, the node's own), and only its positives to the exact set in the store.
 * Public content yields thousands of token-shaped candidates a batch and nearly none is ours: the filter
 * answers "not issued" for almost all of them without a query, and a positive it gives wrongly is
 * refuted by the exact query, so a false positive is never a leak.
 *
 * The filter is a copy of the store's set and must never lag behind it, or a token issued a minute ago
 * would be missed: before each batch it reads the set's generation (two `meta` rows, raised by every
 * write that changes the set, in any process sharing the database). When it moved by additions only,
 * the rows added since (ids above the last one read) are added to the filter, and the set's count must
 * then equal what the filter holds, or it is rebuilt: an id taken before another but committed after it
 * (PostgreSQL's identity) would otherwise be skipped. When a hash was removed, or the filter is full to
 * its margin, it is rebuilt from the whole set. A removed hash left in the filter would be harmless (its
 * positive is refuted), but a rebuild is the only way to know the set whole again.
 *
 * Memory: the bit array only (the hashes are read a page at a time and dropped), about 2.5 bytes a
 * hash at the default rate with its margin for additions (bench/RESULTS.md "Issued-hash filter").
 */
import { BlockedBloom } from '../../protocol/bloom.js'
import type { IssuedGeneration, IssuedHashRepo } from '../store/issued-hashes.js'

/** How the filter is built. */
export interface IssuedHashFilterOptions {
  /**
   * The bloom filter's target false-positive rate (default 0.001). Each positive costs a place in the
   * exact query, not a wrong answer; tests raise it to produce false positives on purpose.
   */
  falsePositiveRate?: number
}

/** What one check found. */
export interface IssuedCheck {
  /** The hashes (stored form) in the issued set. */
  issued: Set<string>
  /** Hashes the filter let through to the exact query (issued ones included). */
  positives: number
}

/** The three 32-bit words of a stored hash (64 hex characters) the bloom filter takes. */
function wordsOf(stored: string): [number, number, number] {
  return [parseInt(stored.slice(0, 8), 16), parseInt(stored.slice(8, 16), 16), parseInt(stored.slice(16, 24), 16)]
}

/** A bloom filter over the issued set, kept current with the store. */
export class IssuedHashFilter {
  readonly #repo: IssuedHashRepo
  readonly #falsePositiveRate: number
  #bloom: BlockedBloom | undefined
  #keys = 0
  /** Keys the filter was sized for: past them its false-positive rate drifts up, and it is rebuilt. */
  #capacity = 0
  /** The last row id read. */
  #lastId = 0
  /** The set's generation the filter holds; changes -1 before the first build. */
  #generation: IssuedGeneration = { changes: -1, removals: -1 }
  #rebuilds = 0
  /** A refresh under way: concurrent batches of one runner wait for the same one. */
  #refreshing: Promise<void> | undefined

  constructor(repo: IssuedHashRepo, options: IssuedHashFilterOptions = {}) {
    const rate = options.falsePositiveRate ?? 0.001
    if (!(rate > 0 && rate < 1)) throw new TypeError(`falsePositiveRate must be between 0 and 1 (exclusive), got ${rate}`)
    this.#repo = repo
    this.#falsePositiveRate = rate
  }

  /** Hashes the filter was built with. */
  get size(): number {
    return this.#keys
  }

  /** Bytes the filter's bit array takes (0 before the first build). */
  get byteLength(): number {
    return this.#bloom?.byteLength ?? 0
  }

  /** The store generation (its `changes`) of the set the filter holds (-1 before the first build). */
  get generation(): number {
    return this.#generation.changes
  }

  /** Times the filter was built from the whole set (the first build included). */
  get rebuilds(): number {
    return this.#rebuilds
  }

  /** False: `stored` is not in the set the filter was built from. True: it may be. */
  mayContain(stored: string): boolean {
    if (this.#bloom === undefined) return true
    const [a, b, c] = wordsOf(stored)
    return this.#bloom.mayContain(a, b, c)
  }

  /**
   * Brings the filter up to the store's set: one read when it did not change; the rows added since when
   * only additions happened; a rebuild otherwise.
   */
  async refresh(): Promise<void> {
    while (this.#refreshing !== undefined) await this.#refreshing
    const generation = await this.#repo.generation()
    if (this.#bloom !== undefined && generation.changes === this.#generation.changes) return
    this.#refreshing = (async () => {
      if (!await this.#extend(generation)) await this.#rebuild(generation)
    })().finally(() => {
      this.#refreshing = undefined
    })
    await this.#refreshing
  }

  /**
   * Of `stored` (hashes in the store's form), those in the issued set: the filter, brought up to date
   * first, then the exact query for its positives only.
   */
  async check(stored: Iterable<string>): Promise<IssuedCheck> {
    await this.refresh()
    const positives: string[] = []
    for (const h of new Set(stored)) if (this.mayContain(h)) positives.push(h)
    return { issued: positives.length === 0 ? new Set() : await this.#repo.matching(positives), positives: positives.length }
  }

  /**
   * Adds the rows added since the last read, when no hash was removed since and they fit; true when the
   * filter then holds the whole set (its count checked, and no removal committed meanwhile).
   */
  async #extend(generation: IssuedGeneration): Promise<boolean> {
    const bloom = this.#bloom
    if (bloom === undefined || generation.removals !== this.#generation.removals) return false
    let keys = this.#keys
    let full = false
    const last = await this.#repo.forEachPage((page) => {
      if (full || keys + page.length > this.#capacity) {
        full = true
        return
      }
      for (const h of page) {
        const [a, b, c] = wordsOf(h)
        bloom.add(a, b, c)
      }
      keys += page.length
    }, this.#lastId)
    if (full) return false
    // Without removals every row read is still there: the same count means the same set. A removal
    // committed after the count would lower it as much as a late row raises it: read the generation again.
    const count = await this.#repo.count()
    if (count !== keys || (await this.#repo.generation()).removals !== this.#generation.removals) return false
    this.#keys = keys
    this.#lastId = last
    this.#generation = generation
    return true
  }

  // The generation is read before the rows: a write during the read raises it past what is recorded
  // here, so the next refresh reads again; the filter never claims a newer set than it holds.
  async #rebuild(generation: IssuedGeneration): Promise<void> {
    const count = await this.#repo.count()
    // Room for the additions to come (as the node's index keeps for live upserts), so that an upload
    // extends the filter instead of rebuilding it.
    const capacity = count + Math.max(4096, Math.ceil(count / 8))
    const bloom = new BlockedBloom({ expectedKeys: capacity, falsePositiveRate: this.#falsePositiveRate })
    let keys = 0
    const last = await this.#repo.forEachPage((page) => {
      for (const h of page) {
        const [a, b, c] = wordsOf(h)
        bloom.add(a, b, c)
      }
      keys += page.length
    })
    this.#bloom = bloom
    this.#keys = keys
    this.#capacity = capacity
    this.#lastId = last
    this.#generation = generation
    this.#rebuilds++
  }
}
