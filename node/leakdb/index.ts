/**
 * The embedded leak index: is this credential a leaked token, and what should be done about it?
 *
 * A lookup goes: LRU of recent verdicts (keyed by the credential, in memory only) → SHA-256 →
 * blocked bloom filter (most clean credentials stop here) → live changes since the snapshot →
 * the sorted base arrays. Memory per leaked hash, at 10 million: 8 bytes of key + 4 of value in
 * typed arrays, about 1.5 of bloom and under 1 of bucket table (bench/RESULTS.md "Index"). The base
 * arrays are the snapshot's own sections (protocol/snapshot.ts): a load reads them straight in, from a
 * file or an HTTP body, in chunks, and keeps no other copy; only the bloom filter is built on load.
 *
 * Exactness: the base stores, per hash, the first B + 64 bits of its digest (B = bucket bits, about
 * log2(N) − 3, so 85 bits at 10 million hashes) and matches on all of them. A clean credential is
 * taken for a leaked one only if its SHA-256 agrees with one of the N leaked digests on those bits:
 * probability N / 2^(B+64) per check. Since 2^B ≥ N / 8 (up to 2^24 buckets, 134 million hashes), that is
 * at most 8 / 2^64 ≈ 4.3e-19 a check: 2.6e-19 at 10 million, so 2.6e-7 over a trillion checks. Keeping
 * the other bits would double the memory per hash for no observable gain. Live changes are matched on 126 bits.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { LRUCache } from 'lru-cache'
import { BlockedBloom } from '../../protocol/bloom.js'
import { validateChanges, type Change } from '../../protocol/changes.js'
import { SnapshotCorruptError, ChangeInvalidError } from '../../lib/errors.js'
import type { LeakAction as Action } from '../../protocol/leak.js'
import { LEAK_ID_MASK, MIN_BUCKET_BITS, MONITOR_BIT, SnapshotDecoder, type DecodeLimits, type SnapshotParts } from '../../protocol/snapshot.js'
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

/**
 * What a node enforces and reports on: a loaded `LeakIndex`, or, for the moment a reload takes, a
 * snapshot file read in place (snapshot-file.ts). Both answer the same lookups alike.
 */
export interface IndexReader {
  /** The revision of the last snapshot or change applied. */
  readonly revision: number
  /** Leaked hashes in the index now. */
  readonly size: number
  /** Approximate bytes of memory held by the index structures. */
  readonly byteLength: number
  readonly stats: IndexStats
  /** Checks one credential, as it came in a request. Undefined: not leaked. */
  check(credential: string): IndexEntry | undefined
  /** Checks a digest (32 bytes) in the index's form. Undefined: not leaked. */
  checkDigest(digest: Uint8Array): IndexEntry | undefined
  /** Whether the index holds a SHA-256 hex hash (no cache, no stats). */
  has(sha256: string): boolean
  /** Lets go of what the reader holds besides memory (a file); called once it is out of force. */
  close?(): void
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

// Room in the bloom filter for live upserts before its false-positive rate drifts up.
export function bloomCapacity(n: number): number {
  return n + Math.max(4096, Math.ceil(n / 8))
}

/** A credential's hash as an index with these options holds it, in base64: a SHA-256, or a keyed hash with a hash key. */
export function credentialHasher(options: IndexOptions): (credential: string) => string {
  const key = options.hashKey
  return key === undefined ? sha256Base64 : (credential) => keyedTokenBase64(key, credential)
}

/** The entry an index value word stands for. */
export function decode(value: number): IndexEntry {
  return { action: (value & MONITOR_BIT) === 0 ? 'block' : 'monitor', leakId: value & LEAK_ID_MASK }
}

/** The leak index of one node. Build it from a snapshot; keep it current with `applyChanges`. */
export class LeakIndex implements IndexReader {
  readonly #bucketBits: number
  readonly #offsets: Uint32Array
  // The base's hi and lo words as int32: see `#find`.
  readonly #hi: Int32Array
  readonly #lo: Int32Array
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

  readonly #base: SnapshotParts

  private constructor(parts: SnapshotParts, bloom: BlockedBloom, options: IndexOptions) {
    this.#base = parts
    this.#bucketBits = parts.bucketBits
    this.#offsets = parts.offsets
    this.#hi = int32View(parts.hi)
    this.#lo = int32View(parts.lo)
    this.#values = parts.values
    this.#bloom = bloom
    this.#revision = parts.revision
    this.#size = parts.hi.length
    const cacheSize = options.cacheSize ?? DEFAULTS.cacheSize
    if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new TypeError(`cacheSize must be a non-negative integer, got ${String(cacheSize)}`)
    this.#cache = cacheSize > 0 ? new LRUCache<string, CachedVerdict>({ max: cacheSize }) : undefined
    this.#cacheMaxKeyLength = options.cacheMaxKeyLength ?? DEFAULTS.cacheMaxKeyLength
    this.#hash = credentialHasher(options)
  }

  /** An index with no entries at revision 0. */
  static empty(options: IndexOptions = {}): LeakIndex {
    const empty = new Uint32Array(0)
    const parts = { revision: 0, bucketBits: MIN_BUCKET_BITS, offsets: new Uint32Array(2 ** MIN_BUCKET_BITS + 1), hi: empty, lo: empty, values: empty, blockCount: 0 }
    return LeakIndex.#fromParts(parts, options)
  }

  /**
   * Builds an index from a whole snapshot in memory (see protocol/snapshot.ts for the layout); its
   * sections are copied, so the buffer can go. Loading a large one: `fromFile` or `fromStream`.
   * @throws a snapshot error (lib/errors.ts) when the snapshot is truncated, corrupt, unsorted or of an unknown version.
   */
  static fromSnapshot(buf: Uint8Array, options: IndexOptions = {}): LeakIndex {
    const decoder = new SnapshotDecoder({ size: buf.length })
    decoder.push(buf)
    return LeakIndex.#fromParts(decoder.end(), options)
  }

  /**
   * Loads a snapshot file, reading it straight into the index's arrays a chunk at a time: the memory
   * a load takes is the index's own. Blocks the thread (about a second at 10 million hashes): for a
   * process that serves nothing yet (`leakgate node --index` at start).
   * @throws a snapshot error (lib/errors.ts) as `fromSnapshot`, or the file's read error.
   */
  static fromFileSync(path: string, options: IndexOptions = {}): LeakIndex {
    const fd = openSync(path, 'r')
    try {
      const decoder = new SnapshotDecoder({ size: fstatSync(fd).size })
      for (;;) {
        const target = decoder.target()
        if (target.length === 0) break
        const n = readSync(fd, target, 0, Math.min(target.length, READ_CHUNK), null)
        if (n === 0) break
        decoder.advance(n)
      }
      return LeakIndex.#fromParts(decoder.end(), options)
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Loads a snapshot file as `fromFileSync` does, without holding the event loop: reads of 1 MiB, and
   * the filter built in slices, with the loop free between them. For a node that serves meanwhile.
   * @param checked what a check of this file's entries found (snapshot-file.ts): its checksum and the
   *   filter built from them. When the file's checksum is that one, they are the same bytes, so the
   *   entries are not checked again and the filter is taken as it is; otherwise it is loaded as any file.
   */
  static async fromFile(path: string | FileHandle, options: IndexOptions = {}, checked?: { checksum: Uint8Array; bloom: BlockedBloom }): Promise<LeakIndex> {
    if (typeof path !== 'string') return LeakIndex.#readFile(path, options, checked)
    const file = await open(path, 'r')
    try {
      return await LeakIndex.#readFile(file, options, checked)
    } finally {
      await file.close()
    }
  }

  // From the file's start whatever its handle's position: a handle may have been read from before.
  static async #readFile(file: FileHandle, options: IndexOptions, checked?: { checksum: Uint8Array; bloom: BlockedBloom }): Promise<LeakIndex> {
    const decoder = new SnapshotDecoder({ size: (await file.stat()).size })
    await readInto(decoder, file)
    const parts = decoder.end()
    if (checked !== undefined && Buffer.from(decoder.checksum).equals(checked.checksum)) return new LeakIndex(parts, checked.bloom, options)
    return LeakIndex.#fromPartsAsync(parts, options)
  }

  /**
   * Loads a snapshot from chunks as they arrive (an HTTP body), copying each into the index's arrays:
   * no copy of the whole body is ever held. Throws at the first framing error (the caller's stream is
   * then closed by the loop's exit); the checksum is checked at the end, before the filter is built.
   */
  static async fromStream(chunks: AsyncIterable<Uint8Array>, options: IndexOptions = {}, limits: DecodeLimits = {}): Promise<LeakIndex> {
    const decoder = new SnapshotDecoder(limits)
    for await (const chunk of chunks) decoder.push(chunk)
    return LeakIndex.#fromPartsAsync(decoder.end(), options)
  }

  static #fromParts(parts: SnapshotParts, options: IndexOptions): LeakIndex {
    const loader = new BaseLoader(parts, parts.values.length, options.falsePositiveRate ?? DEFAULTS.falsePositiveRate)
    const [hi, lo, values] = [int32View(parts.hi), int32View(parts.lo), int32View(parts.values)]
    while (!loader.step(hi, lo, values, 0, Infinity));
    return new LeakIndex(parts, loader.bloom, options)
  }

  // Slices of 64k entries take a few milliseconds: the most a request waits behind a load.
  static async #fromPartsAsync(parts: SnapshotParts, options: IndexOptions): Promise<LeakIndex> {
    const loader = new BaseLoader(parts, parts.values.length, options.falsePositiveRate ?? DEFAULTS.falsePositiveRate)
    const [hi, lo, values] = [int32View(parts.hi), int32View(parts.lo), int32View(parts.values)]
    while (!loader.step(hi, lo, values, 0, 65_536)) await yieldToLoop()
    return new LeakIndex(parts, loader.bloom, options)
  }

  /**
   * The snapshot this index was loaded from, without the live changes applied since: its arrays, not a
   * copy (read-only), so the node's cache can write it back to disk (protocol/snapshot.ts snapshotChunks).
   */
  get base(): Readonly<SnapshotParts> {
    return this.#base
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

  #checkBase64(s: string): IndexEntry | undefined {
    keyFromBase64(s, this.#bucketBits)
    const { w0, bucket, khi, klo } = lookupKey
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
    keyFromDigest(digest, this.#bucketBits)
    return { ...lookupKey }
  }

  #findDigest(digest: Uint8Array): number {
    const { bucket, khi, klo } = this.#keyOf(digest)
    return this.#find(bucket, khi, klo)
  }

  #find(bucket: number, khi: number, klo: number): number {
    return findEntry(this.#hi, this.#lo, this.#offsets[bucket]!, this.#offsets[bucket + 1]!, khi, klo)
  }
}

/**
 * The key a digest is matched on, as the index keeps it under `bucketBits` B: its bucket (the first B
 * bits), the words hi and lo of the base (the next 64 bits) and w0 (the first 32 bits), which with hi
 * and lo picks the bloom filter's bits. Set by `keyFromBase64` and `keyFromDigest` and read at once: one
 * object for the process, so that a lookup allocates nothing. Words are int32: see `findEntry`.
 */
export const lookupKey = { w0: 0, bucket: 0, khi: 0, klo: 0 }

/** Sets `lookupKey` from a digest in base64 (its first 16 characters: the first 96 bits, read without making a Buffer). */
export function keyFromBase64(s: string, bucketBits: number): void {
  const g0 = (B64[s.charCodeAt(0)]! << 18) | (B64[s.charCodeAt(1)]! << 12) | (B64[s.charCodeAt(2)]! << 6) | B64[s.charCodeAt(3)]!
  const g1 = (B64[s.charCodeAt(4)]! << 18) | (B64[s.charCodeAt(5)]! << 12) | (B64[s.charCodeAt(6)]! << 6) | B64[s.charCodeAt(7)]!
  const g2 = (B64[s.charCodeAt(8)]! << 18) | (B64[s.charCodeAt(9)]! << 12) | (B64[s.charCodeAt(10)]! << 6) | B64[s.charCodeAt(11)]!
  const g3 = (B64[s.charCodeAt(12)]! << 18) | (B64[s.charCodeAt(13)]! << 12) | (B64[s.charCodeAt(14)]! << 6) | B64[s.charCodeAt(15)]!
  setKey((g0 << 8) | (g1 >>> 16), ((g1 & 0xffff) << 16) | (g2 >>> 8), ((g2 & 0xff) << 24) | g3, bucketBits)
}

/** Sets `lookupKey` from a digest's bytes (at least its first 12). */
export function keyFromDigest(digest: Uint8Array, bucketBits: number): void {
  const d = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)
  setKey(d.readInt32BE(0), d.readInt32BE(4), d.readInt32BE(8), bucketBits)
}

function setKey(w0: number, w1: number, w2: number, B: number): void {
  const R = 32 - B
  lookupKey.w0 = w0
  lookupKey.bucket = w0 >>> R
  lookupKey.khi = (w0 << B) | (w1 >>> R)
  lookupKey.klo = (w1 << B) | (w2 >>> R)
}

/**
 * Where the entry (khi, klo) is among entries start..end-1 of a bucket, or -1. Entries of a bucket are
 * sorted by (hi, lo); a bucket holds about 8 at most sizes, so a scan beats a search.
 * Words are compared as int32 (keys as `lookupKey` holds them, arrays through Int32Array views), the
 * unsigned order by flipping the sign bit: a uint32 of 2^31 or more is a heap-allocated number wherever V8
 * runs the code unoptimized, so half the words read would allocate; int32 values never do.
 */
export function findEntry(hi: Int32Array, lo: Int32Array, start: number, end: number, khi: number, klo: number): number {
  const k = khi ^ SIGN
  for (let i = start; i < end; i++) {
    const h = hi[i]!
    if (h === khi) {
      if (lo[i] === klo) return i
    } else if ((h ^ SIGN) > k) {
      return -1
    }
  }
  return -1
}

const READ_CHUNK = 1 << 20

// Out of `BaseLoader.step`'s loop on purpose (see there).
function entryError(i: number, what: string): Error {
  return new SnapshotCorruptError(`snapshot entry ${i} ${what}`)
}

// The int32 sign bit: x ^ SIGN orders int32s as their uint32 bits order.
const SIGN = -0x80000000

// The same words read as int32: V8 keeps those unboxed even in unoptimized code (a uint32 of 2^31 or more it boxes).
export function int32View(a: Uint32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length)
}

/**
 * Checks the base arrays of a decoded snapshot (buckets in order, entries sorted and distinct within
 * each, no leak id 0, the header's block count) and fills the bloom filter from them, `step` by step.
 * Keys go in in digest order, so the filter fills front to back (protocol/bloom.ts). The entries may come whole
 * or a window at a time (a snapshot file checked without being loaded: snapshot-file.ts).
 */
export class BaseLoader {
  readonly bloom: BlockedBloom
  readonly #offsets: Uint32Array
  readonly #bucketBits: number
  readonly #count: number
  readonly #blockCount: number
  #bucket = 0
  #blocks = 0

  /** @param count the entries the snapshot's header announces. */
  constructor(table: Pick<SnapshotParts, 'offsets' | 'bucketBits' | 'blockCount'>, count: number, falsePositiveRate: number) {
    this.#offsets = table.offsets
    this.#bucketBits = table.bucketBits
    this.#count = count
    this.#blockCount = table.blockCount
    this.bloom = new BlockedBloom({ expectedKeys: bloomCapacity(count), falsePositiveRate })
    const { offsets } = table
    if (offsets[0] !== 0 || offsets[offsets.length - 1] !== count) {
      throw new SnapshotCorruptError('snapshot bucket offsets do not span its entries')
    }
  }

  /** The first entry of the next bucket to be checked: where the next window must start. */
  get nextEntry(): number {
    return this.#offsets[this.#bucket]!
  }

  /**
   * Checks and adds the entries of the next buckets, about `budget` of them (whole buckets), from the
   * window of entries `first` to `first + hi.length - 1` (hi, lo and values read as int32); stops at a
   * bucket the window does not hold whole.
   * The loop must not allocate: garbage a key, at 10 million keys, grows V8's young generation to its
   * maximum and the node's resident memory by about 20 MiB. So the error messages are built out of line
   * (`entryError`: with its template literals in the loop body, V8's sampling heap profiler put 230 MiB, 24
   * bytes an entry, on this function in a 10M load; 1.4 MiB without), and every per-entry value is an int32
   * (words read through Int32Array views, compared in unsigned order by flipping the sign bit), since V8 runs
   * this loop unoptimized for stretches (before it is optimized, after its deopts), and there every uint32 of
   * 2^31 or more read is a new heap number.
   * @returns true once every entry is in.
   * @throws {SnapshotCorruptError} on entries out of order, repeated, with leak id 0, or counts that disagree.
   */
  step(hi: Int32Array, lo: Int32Array, values: Int32Array, first: number, budget: number): boolean {
    const offsets = this.#offsets
    const B = this.#bucketBits
    const buckets = offsets.length - 1
    const bloom = this.bloom
    const held = first + hi.length
    let b = this.#bucket
    let blocks = this.#blocks
    let done = 0
    for (; b < buckets && done < budget; b++) {
      const start = offsets[b]!
      const end = offsets[b + 1]!
      if (end < start || end > this.#count) throw new SnapshotCorruptError(`snapshot bucket offsets decrease or overrun at bucket ${b}`)
      if (start < first || end > held) break
      const s = start - first
      const e = end - first
      for (let i = s; i < e; i++) {
        const h = hi[i]! ^ SIGN
        const l = lo[i]! ^ SIGN
        if (i > s) {
          const ph = hi[i - 1]! ^ SIGN
          if (h < ph || (h === ph && l <= (lo[i - 1]! ^ SIGN))) throw entryError(i + first, 'is out of order or repeated')
        }
        const value = values[i]!
        if ((value & LEAK_ID_MASK) === 0) throw entryError(i + first, 'has leak id 0')
        // The monitor bit is the sign bit.
        if (value >= 0) blocks++
      }
      bloom.addBucket(b, B, hi, lo, s, e)
      done += end - start + 1
    }
    this.#bucket = b
    this.#blocks = blocks
    if (b < buckets) return false
    if (blocks !== this.#blockCount) {
      throw new SnapshotCorruptError(`snapshot says ${this.#blockCount} entries block, its values ${blocks}`)
    }
    return true
  }
}

// 21 base64 characters: the digest's first 126 bits, the same whether 16 or 32 bytes were encoded.
const OVERLAY_KEY_CHARS = 21

function overlayKey(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, 16).toString('base64', 0, 16).slice(0, OVERLAY_KEY_CHARS)
}

const B64 = new Uint8Array(128)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[c.charCodeAt(0)] = i

/** Reads `file` from its start into `decoder`, a chunk at a time, until the decoder wants no more or the file ends. */
export async function readInto(decoder: SnapshotDecoder, file: FileHandle): Promise<void> {
  let position = 0
  for (;;) {
    const target = decoder.target()
    if (target.length === 0) break
    const { bytesRead } = await file.read(target, 0, Math.min(target.length, READ_CHUNK), position)
    if (bytesRead === 0) break
    position += bytesRead
    decoder.advance(bytesRead)
  }
}
