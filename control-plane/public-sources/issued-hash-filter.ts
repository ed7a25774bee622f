/**
 * The issued-hash check of public sources, as the node checks a credential: a blocked bloom filter in
 * memory first (protocol/bloom.ts, the node's own), and only its positives to the exact set in the store.
 * Public content yields thousands of token-shaped candidates a batch and nearly none is ours: the filter
 * answers "not issued" for almost all of them without a query, and a positive it gives wrongly is
 * refuted by the exact query, so a false positive is never a leak.
 *
 * The filter is a copy of the store's set and must never lag behind it, or a token issued a minute ago
 * would be missed: before each batch it reads the set's generation (one indexed row, raised by every
 * write that changes the set, in any process sharing the database) and rebuilds when it moved. A hash
 * removed since the build stays in the filter until then, which is harmless: its positive is refuted.
 *
 * Memory: the bit array only (the hashes are read a page at a time and dropped), about 2.2 bytes a
 * hash at the default rate (bench/RESULTS.md "Issued-hash filter").
 */
import { BlockedBloom } from '../../protocol/bloom.js'
import type { IssuedHashRepo } from '../store/issued-hashes.js'

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
  /** The set's generation the filter was built from; -1 before the first build. */
  #generation = -1
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

  /** The store generation of the set the filter holds (-1 before the first build). */
  get generation(): number {
    return this.#generation
  }

  /** False: `stored` is not in the set the filter was built from. True: it may be. */
  mayContain(stored: string): boolean {
    if (this.#bloom === undefined) return true
    const [a, b, c] = wordsOf(stored)
    return this.#bloom.mayContain(a, b, c)
  }

  /** Rebuilds the filter when the store's set changed since it was built (one read when it did not). */
  async refresh(): Promise<void> {
    while (this.#refreshing !== undefined) await this.#refreshing
    const generation = await this.#repo.generation()
    if (generation === this.#generation && this.#bloom !== undefined) return
    this.#refreshing = this.#rebuild(generation).finally(() => {
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

  // The generation is read before the rows: a write during the read raises it past what is recorded
  // here, so the next refresh builds again; the filter never claims a newer set than it holds.
  async #rebuild(generation: number): Promise<void> {
    const count = await this.#repo.count()
    const bloom = new BlockedBloom({ expectedKeys: count, falsePositiveRate: this.#falsePositiveRate })
    let keys = 0
    await this.#repo.forEachPage((page) => {
      for (const h of page) {
        const [a, b, c] = wordsOf(h)
        bloom.add(a, b, c)
      }
      keys += page.length
    })
    this.#bloom = bloom
    this.#keys = keys
    this.#generation = generation
  }
}
