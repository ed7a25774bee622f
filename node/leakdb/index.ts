/**
 * The embedded leak index: is this credential a leaked token, and what should be done about it?
 *
 * A lookup goes: LRU of recent verdicts (keyed by the credential, in memory only) → SHA-256 →
 * blocked bloom filter (most clean credentials stop here) → live changes since the snapshot →
 * the sorted base arrays. Memory per leaked hash, at 10 million: 8 bytes of key + 4 of value in
 * typed arrays, about 1.5 of bloom and under 1 of bucket table (bench/RESULTS.md "Index").
 *
 * Exactness: the base stores, per hash, the first B + 64 bits of its digest (B = bucket bits, about
 * log2(N) − 3, so 85 bits at 10 million hashes) and matches on all of them. A clean credential is
 * taken for a leaked one only if its SHA-256 agrees with one of the N leaked digests on those bits:
 * probability N / 2^(B+64) per check, 2^-64 whatever N (about 5e-20). Keeping the other bits would double
 * the memory per hash for no observable gain. Live changes are matched on 126 bits.
 */
import { LRUCache } from 'lru-cache'
import { BlockedBloom } from './bloom.js'
import { validateChanges, type Change } from '../../protocol/changes.js'
import { SnapshotCorruptError, ChangeInvalidError } from '../../lib/errors.js'
import type { LeakAction as Action } from '../../protocol/leak.js'
import { ENTRY_SIZE, HEADER_SIZE, LEAK_ID_MASK, MONITOR_BIT, readSnapshotHeader } from '../../protocol/snapshot.js'
import { keyedTokenBase64, sha256Base64 } from '../../protocol/token-hash.js'

/** What the index says of a leaked token. */
export interface IndexEntry {
  readonly action: Action
  readonly leakId: number
}

/** Tuning of one index. */
export interface IndexOptions {
  /** Verdicts kept in the LRU in front of the index; 0 turns it off. Default 100 000. */
  cacheSize?: number
  /** Credentials longer than this are checked but not cached, which bounds the cache's memory. Default 256. */
  cacheMaxKeyLength?: number
  /** Target false-positive rate of the bloom filter. Default 0.01. */
  falsePositiveRate?: number
  /**
   * The control plane's hash key: the index then holds keyed hashes (protocol/token-hash.ts) and a
   * credential is looked up by its keyed hash. Default: none (plain SHA-256s).
   */
  hashKey?: Uint8Array
}

/** Counters since the index was made; they only grow. */
export interface IndexStats {
  cacheHits: number
  cacheMisses: number
  bloomFalsePositives: number
}

const MISS: IndexEntry = Object.freeze({ action: 'block', leakId: 0 })

/** A cached verdict, valid while the index is at the generation it was made in. */
interface CachedVerdict {
  readonly generation: number
  readonly entry: IndexEntry
}
const DEFAULTS = { cacheSize: 100_000, cacheMaxKeyLength: 256, falsePositiveRate: 0.01 }

function bucketBitsFor(n: number): number {
  return Math.min(24, Math.max(4, Math.ceil(Math.log2(Math.max(n, 1))) - 3))
}

// Room in the bloom filter for live upserts before its false-positive rate drifts up.
function bloomCapacity(n: number): number {
  return n + Math.max(4096, Math.ceil(n / 8))
}

function decode(value: number): IndexEntry {
  return { action: (value & MONITOR_BIT) === 0 ? 'block' : 'monitor', leakId: value & LEAK_ID_MASK }
}

/** The leak index of one node. Build it from a snapshot; keep it current with `applyChanges`. */
export class LeakIndex {
  readonly #bucketBits: number
  readonly #offsets: Uint32Array
  readonly #hi: Uint32Array
  readonly #lo: Uint32Array
  readonly #values: Uint32Array
  readonly #bloom: BlockedBloom
  readonly #cache: LRUCache<string, CachedVerdict> | undefined
  readonly #cacheMaxKeyLength: number
  /** A credential's hash as the index holds it, in base64. */
  readonly #hash: (credential: string) => string
  // Bumped by every change: cached verdicts of an older generation are misses. Clearing the LRU instead
  // took 16-41 ms at 100 000 entries (lru-cache visits each), holding every request up that long.
  #generation = 0
  // Changes since the snapshot, keyed by the first 16 bytes of the digest; null marks a deletion.
  readonly #overlay = new Map<string, IndexEntry | null>()
  #revision: number
  #size: number
  readonly stats: IndexStats = { cacheHits: 0, cacheMisses: 0, bloomFalsePositives: 0 }

  private constructor(
    parts: { bucketBits: number; offsets: Uint32Array; hi: Uint32Array; lo: Uint32Array; values: Uint32Array; bloom: BlockedBloom; revision: number },
    options: IndexOptions,
  ) {
    this.#bucketBits = parts.bucketBits
    this.#offsets = parts.offsets
    this.#hi = parts.hi
    this.#lo = parts.lo
    this.#values = parts.values
    this.#bloom = parts.bloom
    this.#revision = parts.revision
    this.#size = parts.hi.length
    const cacheSize = options.cacheSize ?? DEFAULTS.cacheSize
    if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new TypeError(`cacheSize must be a non-negative integer, got ${String(cacheSize)}`)
    this.#cache = cacheSize > 0 ? new LRUCache<string, CachedVerdict>({ max: cacheSize }) : undefined
    this.#cacheMaxKeyLength = options.cacheMaxKeyLength ?? DEFAULTS.cacheMaxKeyLength
    const key = options.hashKey
    this.#hash = key === undefined ? sha256Base64 : (credential) => keyedTokenBase64(key, credential)
  }

  /** An index with no entries at revision 0. */
  static empty(options: IndexOptions = {}): LeakIndex {
    return LeakIndex.#fromParts(buildParts(Buffer.alloc(0), 0, 0, options.falsePositiveRate ?? DEFAULTS.falsePositiveRate), options)
  }

  /**
   * Builds an index from a snapshot (see snapshot.ts for the layout).
   * @throws a snapshot error (lib/errors.ts) when the snapshot is truncated, corrupt, unsorted or of an unknown version.
   */
  static fromSnapshot(buf: Uint8Array, options: IndexOptions = {}): LeakIndex {
    const header = readSnapshotHeader(buf)
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    return LeakIndex.#fromParts(buildParts(b, header.count, header.revision, options.falsePositiveRate ?? DEFAULTS.falsePositiveRate), options)
  }

  /**
   * Builds an index from a snapshot on a worker thread, so a large one (about 1.5 s at 10 million
   * hashes) does not hold the event loop, and requests, up while it loads. Same checks and errors as
   * `fromSnapshot`; the typed arrays move back to this thread without a copy.
   */
  static async fromSnapshotInWorker(buf: Uint8Array, options: IndexOptions = {}): Promise<LeakIndex> {
    const { loadInWorker } = await import('./load-worker.js')
    const parts = await loadInWorker(buf, options.falsePositiveRate ?? DEFAULTS.falsePositiveRate)
    return LeakIndex.#fromParts(parts, options)
  }

  static #fromParts(parts: IndexParts, options: IndexOptions): LeakIndex {
    const bloom = new BlockedBloom({ expectedKeys: bloomCapacity(parts.hi.length), falsePositiveRate: parts.falsePositiveRate }, parts.bloomWords)
    return new LeakIndex({ ...parts, bloom }, options)
  }

  /** The revision of the last snapshot or change applied. */
  get revision(): number {
    return this.#revision
  }

  /** Leaked hashes in the index now. */
  get size(): number {
    return this.#size
  }

  /** Changes applied since the snapshot (a node refetches a snapshot when this grows large). */
  get changesSinceSnapshot(): number {
    return this.#overlay.size
  }

  /** Approximate bytes of memory held by the index structures (not the LRU or live changes). */
  get byteLength(): number {
    return this.#offsets.byteLength + this.#hi.byteLength + this.#lo.byteLength + this.#values.byteLength + this.#bloom.byteLength
  }

  /** Checks one credential, as it came in a request. Undefined: not leaked. */
  check(credential: string): IndexEntry | undefined {
    const cache = this.#cache
    if (cache !== undefined) {
      const cached = cache.get(credential)
      if (cached !== undefined && cached.generation === this.#generation) {
        this.stats.cacheHits++
        return cached.entry === MISS ? undefined : cached.entry
      }
      this.stats.cacheMisses++
    }
    const entry = this.#checkBase64(this.#hash(credential))
    if (cache !== undefined && credential.length <= this.#cacheMaxKeyLength) cache.set(credential, { generation: this.#generation, entry: entry ?? MISS })
    return entry
  }

  /** Checks a digest (32 bytes) in the index's form: a SHA-256, or a keyed hash with a hash key. Undefined: not leaked. */
  checkDigest(digest: Uint8Array): IndexEntry | undefined {
    return this.#checkBase64(Buffer.from(digest.buffer, digest.byteOffset, 16).toString('base64'))
  }

  // The first 16 base64 characters are the digest's first 96 bits, read without making a Buffer.
  #checkBase64(s: string): IndexEntry | undefined {
    const g0 = (B64[s.charCodeAt(0)]! << 18) | (B64[s.charCodeAt(1)]! << 12) | (B64[s.charCodeAt(2)]! << 6) | B64[s.charCodeAt(3)]!
    const g1 = (B64[s.charCodeAt(4)]! << 18) | (B64[s.charCodeAt(5)]! << 12) | (B64[s.charCodeAt(6)]! << 6) | B64[s.charCodeAt(7)]!
    const g2 = (B64[s.charCodeAt(8)]! << 18) | (B64[s.charCodeAt(9)]! << 12) | (B64[s.charCodeAt(10)]! << 6) | B64[s.charCodeAt(11)]!
    const g3 = (B64[s.charCodeAt(12)]! << 18) | (B64[s.charCodeAt(13)]! << 12) | (B64[s.charCodeAt(14)]! << 6) | B64[s.charCodeAt(15)]!
    const w0 = ((g0 << 8) | (g1 >>> 16)) >>> 0
    const w1 = (((g1 & 0xffff) << 16) | (g2 >>> 8)) >>> 0
    const w2 = (((g2 & 0xff) << 24) | g3) >>> 0
    const B = this.#bucketBits
    const R = 32 - B
    const bucket = w0 >>> R
    const khi = ((w0 << B) | (w1 >>> R)) >>> 0
    const klo = ((w1 << B) | (w2 >>> R)) >>> 0
    if (!this.#bloom.mayContain(w0, khi, klo)) return undefined
    if (this.#overlay.size > 0) {
      const live = this.#overlay.get(s.slice(0, OVERLAY_KEY_CHARS))
      if (live !== undefined) return live ?? undefined
    }
    const at = this.#find(bucket, khi, klo)
    if (at === -1) {
      this.stats.bloomFalsePositives++
      return undefined
    }
    return decode(this.#values[at]!)
  }

  /** Whether the index holds a SHA-256 hex hash (no cache, no stats). */
  has(sha256: string): boolean {
    const digest = Buffer.from(sha256, 'hex')
    return this.#contains(overlayKey(digest), digest)
  }

  /**
   * Applies a batch of live changes (upserts and deletes) without a rebuild. The batch is validated
   * whole first: on any bad change it throws ChangeInvalidError and the index is as it was. Changes at or
   * below the current revision are skipped, so a batch may be replayed. Invalidates the verdict cache in O(1).
   * @param revision the revision the batch brings the index to, when above its last change's.
   */
  applyChanges(changes: readonly Change[], revision?: number): void {
    const valid = validateChanges(changes)
    if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 0)) {
      throw new ChangeInvalidError(`refused change batch: revision must be a non-negative integer`)
    }
    let applied = false
    for (const c of valid) {
      if (c.rev <= this.#revision) continue
      const key = overlayKey(c.digest)
      const existed = this.#contains(key, c.digest)
      if (c.op === 'upsert') {
        this.#overlay.set(key, { action: c.action, leakId: c.leakId })
        const { w0, khi, klo } = this.#keyOf(c.digest)
        this.#bloom.add(w0, khi, klo)
        if (!existed) this.#size++
      } else {
        if (existed) this.#size--
        this.#overlay.set(key, null)
      }
      this.#revision = c.rev
      applied = true
    }
    if (revision !== undefined && revision > this.#revision) this.#revision = revision
    if (applied) this.#generation++
  }

  #contains(key: string, digest: Uint8Array): boolean {
    const live = this.#overlay.get(key)
    if (live !== undefined) return live !== null
    return this.#findDigest(digest) !== -1
  }

  #keyOf(digest: Uint8Array): { w0: number; bucket: number; khi: number; klo: number } {
    const B = this.#bucketBits
    const R = 32 - B
    const d = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)
    const w0 = d.readUInt32BE(0)
    const w1 = d.readUInt32BE(4)
    const w2 = d.readUInt32BE(8)
    return { w0, bucket: w0 >>> R, khi: ((w0 << B) | (w1 >>> R)) >>> 0, klo: ((w1 << B) | (w2 >>> R)) >>> 0 }
  }

  #findDigest(digest: Uint8Array): number {
    const { bucket, khi, klo } = this.#keyOf(digest)
    return this.#find(bucket, khi, klo)
  }

  // Entries of a bucket are sorted by (hi, lo); a bucket holds about 8 at most sizes, so a scan beats a search.
  #find(bucket: number, khi: number, klo: number): number {
    const hi = this.#hi
    const end = this.#offsets[bucket + 1]!
    for (let i = this.#offsets[bucket]!; i < end; i++) {
      const h = hi[i]!
      if (h === khi) {
        if (this.#lo[i] === klo) return i
      } else if (h > khi) {
        return -1
      }
    }
    return -1
  }
}

/** The typed arrays of a built index: what a loader thread hands back. */
export interface IndexParts {
  bucketBits: number
  offsets: Uint32Array
  hi: Uint32Array
  lo: Uint32Array
  values: Uint32Array
  bloomWords: Uint32Array
  falsePositiveRate: number
  revision: number
}

/**
 * Reads the n sorted entries of a checked snapshot into the index's arrays, in one pass.
 * @throws {SnapshotCorruptError} on entries out of order, repeated, or with leak id 0.
 */
export function buildParts(b: Buffer, n: number, revision: number, falsePositiveRate: number): IndexParts {
  const B = bucketBitsFor(n)
  const R = 32 - B
  const buckets = 2 ** B
  const offsets = new Uint32Array(buckets + 1)
  const hi = new Uint32Array(n)
  const lo = new Uint32Array(n)
  const values = new Uint32Array(n)
  const bloom = new BlockedBloom({ expectedKeys: bloomCapacity(n), falsePositiveRate })
  let p0 = -1
  let p1 = 0
  let p2 = 0
  let cursor = 0
  for (let i = 0, at = HEADER_SIZE; i < n; i++, at += ENTRY_SIZE) {
    // Byte reads, not readUInt32BE: twice as fast here (1.1 s against 2.6 s for 10M entries, A/B in one process).
    const w0 = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0
    const w1 = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0
    const w2 = ((b[at + 8]! << 24) | (b[at + 9]! << 16) | (b[at + 10]! << 8) | b[at + 11]!) >>> 0
    if (w0 < p0 || (w0 === p0 && (w1 < p1 || (w1 === p1 && w2 <= p2)))) {
      throw new SnapshotCorruptError(`snapshot entry ${i} is out of order or repeated`)
    }
    const bucket = w0 >>> R
    const khi = ((w0 << B) | (w1 >>> R)) >>> 0
    const klo = ((w1 << B) | (w2 >>> R)) >>> 0
    if (i > 0 && p0 >>> R === bucket && hi[i - 1] === khi && lo[i - 1] === klo) {
      throw new SnapshotCorruptError(`snapshot entries ${i - 1} and ${i} agree on their first ${B + 64} bits`)
    }
    const value = ((b[at + 32]! << 24) | (b[at + 33]! << 16) | (b[at + 34]! << 8) | b[at + 35]!) >>> 0
    if ((value & LEAK_ID_MASK) === 0) {
      throw new SnapshotCorruptError(`snapshot entry ${i} has leak id 0`)
    }
    while (cursor <= bucket) offsets[cursor++] = i
    hi[i] = khi
    lo[i] = klo
    values[i] = value
    bloom.add(w0, khi, klo)
    p0 = w0
    p1 = w1
    p2 = w2
  }
  while (cursor <= buckets) offsets[cursor++] = n
  return { bucketBits: B, offsets, hi, lo, values, bloomWords: bloom.words, falsePositiveRate, revision }
}

// 21 base64 characters: the digest's first 126 bits, the same whether 16 or 32 bytes were encoded.
const OVERLAY_KEY_CHARS = 21

function overlayKey(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, 16).toString('base64', 0, 16).slice(0, OVERLAY_KEY_CHARS)
}

const B64 = new Uint8Array(128)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[c.charCodeAt(0)] = i
