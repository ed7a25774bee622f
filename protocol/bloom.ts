/**
 * A blocked bloom filter fed straight from SHA-256 digest bits.
 *
 * Why not a classic bloom filter (or the `bloom-filters` package): the keys are already uniformly random
 * (they are digest bits), so re-hashing them is wasted work, and a classic filter touches k random cache
 * lines per lookup. Here each key picks one 64-byte block and sets k bits inside it: one cache miss per
 * lookup. A blocked filter needs a few more bits per key than a classic one for the same false-positive
 * rate; `bitsPerKey` adds that margin (see bench/RESULTS.md "Index" for measured rates).
 *
 * The caller supplies three 32-bit words of the key: the digest's first 32 bits pick the block, so keys
 * added in digest order (as a snapshot lists them) fill the filter front to back, one cache line after
 * another, instead of missing the cache on every add (loading 10 million hashes went from about 1 s of
 * cache misses to a sequential sweep); the two other words (disjoint bits of the digest) pick the bits.
 *
 * Shared by both parts: the node's leak index (node/leakdb/) and the control plane's issued-hash check of
 * public sources (control-plane/public-sources/issued-hash-filter.ts).
 */

const WORDS_PER_BLOCK = 16 // 16 × 32 bits = 512 bits = one cache line
const BLOCK_BITS_MASK = 511

/** Options of a filter: how many keys it is sized for and the false-positive rate it aims at. */
export interface BloomOptions {
  expectedKeys: number
  falsePositiveRate: number
}

/** Bits per key and probes for a target rate, with the margin a blocked filter needs. */
export function bloomShape(falsePositiveRate: number): { bitsPerKey: number; probes: number } {
  if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
    throw new TypeError(`falsePositiveRate must be between 0 and 1 (exclusive), got ${falsePositiveRate}`)
  }
  const classic = -Math.log(falsePositiveRate) / (Math.LN2 * Math.LN2)
  // Blocking costs about 20 % more bits at 1 % (Putze, Sanders, Singler 2007); measured, not assumed:
  // the index test checks the rate on fresh keys.
  const bitsPerKey = classic * 1.25
  const probes = Math.max(1, Math.min(12, Math.round(classic * Math.LN2)))
  return { bitsPerKey, probes }
}

/** A blocked bloom filter over 96-bit keys given as three uint32 words. */
export class BlockedBloom {
  readonly #words: Uint32Array
  readonly #blocks: number
  readonly #probes: number

  /**
   * @param words the bit array of a filter built elsewhere with the same options (a loader thread
   *   hands it over); a new, empty one when omitted.
   */
  constructor(options: BloomOptions, words?: Uint32Array) {
    const { bitsPerKey, probes } = bloomShape(options.falsePositiveRate)
    const keys = Math.max(1, options.expectedKeys)
    this.#blocks = Math.max(1, Math.ceil((keys * bitsPerKey) / 512))
    if (words !== undefined && words.length !== this.#blocks * WORDS_PER_BLOCK) {
      throw new TypeError(`bloom words: expected ${this.#blocks * WORDS_PER_BLOCK} for these options, got ${words.length}`)
    }
    this.#words = words ?? new Uint32Array(this.#blocks * WORDS_PER_BLOCK)
    this.#probes = probes
  }

  /** The bit array (to hand a built filter to another thread). */
  get words(): Uint32Array {
    return this.#words
  }

  /** Bytes of memory the bit array takes. */
  get byteLength(): number {
    return this.#words.byteLength
  }

  /** Adds a key (its words as uint32 or as int32: only their bits count). */
  add(a: number, b: number, c: number): void {
    const words = this.#words
    const base = this.#block(a) * WORDS_PER_BLOCK
    let h = c | 0
    const step = (b >>> 16) | 1
    for (let i = 0; i < this.#probes; i++) {
      const bit = h & BLOCK_BITS_MASK
      words[base + (bit >>> 5)]! |= 1 << (bit & 31)
      h = (h + step + (h >>> 9)) | 0
    }
  }

  /**
   * Adds the keys of entries start..end-1 of bucket `bucket` of an index's base arrays: key i is
   * (bucket << (32 - bucketBits) | hi[i] >>> bucketBits, hi[i], lo[i]). One call a bucket, not one a key,
   * and only small integers passed: a call passes numbers of 2^31 and more boxed. The arrays are Int32Array
   * views (only the bits count here): the index's loader reads them so, to make no garbage a key
   * (index.ts BaseLoader.step). `top` exceeds 2^31 from bucket 2^(B-1) on and V8 deoptimizes this once
   * there ("lost precision"); computed as a double instead, the loop took 0.8 s more at 10 million keys.
   */
  addBucket(bucket: number, bucketBits: number, hi: Int32Array, lo: Int32Array, start: number, end: number): void {
    const top = (bucket << (32 - bucketBits)) >>> 0
    const words = this.#words
    const blocks = this.#blocks
    const probes = this.#probes
    for (let i = start; i < end; i++) {
      const b = hi[i]!
      const a = (top | (b >>> bucketBits)) >>> 0
      const base = Math.floor((a / 4294967296) * blocks) * WORDS_PER_BLOCK
      let h = lo[i]!
      const step = (b >>> 16) | 1
      for (let k = 0; k < probes; k++) {
        const bit = h & BLOCK_BITS_MASK
        words[base + (bit >>> 5)]! |= 1 << (bit & 31)
        h = (h + step + (h >>> 9)) >>> 0
      }
    }
  }

  /** False: the key was never added. True: it may have been. */
  mayContain(a: number, b: number, c: number): boolean {
    const words = this.#words
    const base = this.#block(a) * WORDS_PER_BLOCK
    let h = c | 0
    const step = (b >>> 16) | 1
    for (let i = 0; i < this.#probes; i++) {
      const bit = h & BLOCK_BITS_MASK
      if ((words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false
      h = (h + step + (h >>> 9)) | 0
    }
    return true
  }

  // Monotonic in the digest's first 32 bits (read as unsigned): scaled onto [0, blocks).
  #block(top: number): number {
    return Math.floor((top >>> 0) * (this.#blocks / 4294967296))
  }
}
