/**
 * A snapshot file enforced in place, for the moment a reload takes, so that a node never holds two whole
 * indexes: a second one beside the index in force would double its memory at the peak (29-31 B a leaked
 * hash at 10 million, bench/RESULTS.md "Node memory").
 *
 * A reload while an index is in force goes: the new snapshot is written to a file and checked whole
 * (framing, checksum; then every entry, as a load checks them) while the old index serves, at constant
 * memory; the file, read in place, is put in force and the old index let go; the file is loaded into a
 * new index, which replaces the view. The view keeps in memory the bucket table (4 B a bucket, about 0.5 B
 * a hash) and the bloom filter (about 1.7 B a hash), built as the entries are checked, so a clean
 * credential costs what it costs against a loaded index; one the filter lets through costs a positional
 * read of its bucket's words (about 8 entries, a few µs from the page cache).
 *
 * The view matches exactly as the index does: same digest bits, same key derivation and bucket scan
 * (index.ts `lookupKey`, `findEntry`), same filter. It takes no live changes: nothing applies them while a
 * reload runs (the sync loop waits for it, an index file has none).
 */
import { readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { BlockedBloom } from '../../protocol/bloom.js'
import { BaseLoader, credentialHasher, decode, findEntry, keyFromBase64, keyFromDigest, LeakIndex, lookupKey, readInto, type IndexEntry, type IndexOptions, type IndexReader, type IndexStats } from './index.js'
import { HEADER_SIZE, SnapshotDecoder, type SnapshotParts } from '../../protocol/snapshot.js'
import { SnapshotTruncatedError } from '../../lib/errors.js'

/** A snapshot whose framing and checksum were checked, with its bucket table: what a check of its entries starts from. */
export interface CheckedSnapshot {
  /** The header's fields and the offsets; hi, lo and values empty (not kept). */
  readonly parts: SnapshotParts
  /** Entries, as the header announces. */
  readonly count: number
  /** The snapshot's checksum. */
  readonly checksum: Uint8Array
}

/**
 * The result of a decoder made with keep `offsets` that has taken a whole snapshot.
 * @throws a snapshot error (lib/errors.ts) when the snapshot is truncated or its checksum wrong.
 */
export function checkedSnapshot(decoder: SnapshotDecoder): CheckedSnapshot {
  const parts = decoder.end()
  return { parts, count: decoder.header!.count, checksum: Buffer.from(decoder.checksum) }
}

// Entries checked a window: three arrays of 256 KiB, a few milliseconds of work between yields.
const WINDOW = 65_536
const HOST_IS_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** A snapshot file, checked whole, answering lookups from its open descriptor. See the module's comment. */
export class SnapshotFileView implements IndexReader {
  readonly revision: number
  readonly size: number
  readonly stats: IndexStats = { cacheHits: 0, cacheMisses: 0, bloomFalsePositives: 0 }
  readonly #file: FileHandle
  readonly #options: IndexOptions
  readonly #offsets: Uint32Array
  readonly #bucketBits: number
  readonly #bloom: BlockedBloom
  readonly #hash: (credential: string) => string
  // Byte positions of the hi, lo and values sections in the file.
  readonly #hiAt: number
  readonly #loAt: number
  readonly #valuesAt: number
  readonly #checksum: Uint8Array
  // One bucket's hi and lo words, read for a lookup (grown for a larger bucket).
  #hiWords = new Int32Array(64)
  #loWords = new Int32Array(64)
  readonly #word = new Int32Array(1)
  #closed = false

  private constructor(file: FileHandle, checked: CheckedSnapshot, bloom: BlockedBloom, options: IndexOptions) {
    const { parts, count } = checked
    this.#file = file
    this.#options = options
    this.revision = parts.revision
    this.size = count
    this.#offsets = parts.offsets
    this.#bucketBits = parts.bucketBits
    this.#bloom = bloom
    this.#hash = credentialHasher(options)
    this.#hiAt = HEADER_SIZE + parts.offsets.byteLength
    this.#loAt = this.#hiAt + 4 * count
    this.#valuesAt = this.#loAt + 4 * count
    this.#checksum = checked.checksum
  }

  /**
   * Opens a snapshot file and checks it whole, as a load would, without loading its entries: its
   * framing and checksum (skipped when `checked` says a download already did), then every entry, a
   * window at a time with the event loop free between windows. The descriptor stays open until `close`,
   * so a file replaced by rename meanwhile does not change what the view reads.
   * @throws a snapshot error (lib/errors.ts) or the file's read error; nothing is left open then.
   */
  static async open(path: string, options: IndexOptions = {}, checked?: CheckedSnapshot): Promise<SnapshotFileView> {
    const file = await open(path, 'r')
    try {
      const c = checked ?? (await checkFraming(file))
      const bloom = await checkEntries(file, c, options.falsePositiveRate ?? 0.01)
      return new SnapshotFileView(file, c, bloom, options)
    } catch (err) {
      await file.close()
      throw err
    }
  }

  /** Bytes of memory the view holds: the bucket table and the filter. */
  get byteLength(): number {
    return this.#offsets.byteLength + this.#bloom.byteLength
  }

  /** Checks one credential, as it came in a request. Undefined: not leaked. */
  check(credential: string): IndexEntry | undefined {
    return this.#checkBase64(this.#hash(credential))
  }

  /** Checks a digest (32 bytes) in the index's form. Undefined: not leaked. */
  checkDigest(digest: Uint8Array): IndexEntry | undefined {
    return this.#checkBase64(Buffer.from(digest.buffer, digest.byteOffset, 16).toString('base64'))
  }

  /** Whether the snapshot holds a SHA-256 hex hash. */
  has(sha256: string): boolean {
    keyFromDigest(Buffer.from(sha256, 'hex'), this.#bucketBits)
    return this.#find(lookupKey.bucket, lookupKey.khi, lookupKey.klo) !== -1
  }

  /**
   * Loads the file into an index (LeakIndex.fromFile through the open descriptor, the event loop free
   * between reads), to put in force in the view's place. The index takes over the view's filter when
   * the file's checksum is still the one checked (a file rewritten in place meanwhile is loaded, and
   * checked, as any other).
   */
  async load(): Promise<LeakIndex> {
    return LeakIndex.fromFile(this.#file, this.#options, { checksum: this.#checksum, bloom: this.#bloom })
  }

  /** Closes the file; the view answers nothing after. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#file.close().catch(() => {})
  }

  #checkBase64(s: string): IndexEntry | undefined {
    keyFromBase64(s, this.#bucketBits)
    const { w0, bucket, khi, klo } = lookupKey
    if (!this.#bloom.mayContain(w0, khi, klo)) return undefined
    const at = this.#find(bucket, khi, klo)
    if (at === -1) {
      this.stats.bloomFalsePositives++
      return undefined
    }
    this.#read(this.#word, 1, this.#valuesAt + 4 * at)
    return decode(this.#word[0]! >>> 0)
  }

  // Throws when the file cannot be read (the request is then refused, never passed unchecked).
  #find(bucket: number, khi: number, klo: number): number {
    const start = this.#offsets[bucket]!
    const n = this.#offsets[bucket + 1]! - start
    if (n === 0) return -1
    if (n > this.#hiWords.length) {
      this.#hiWords = new Int32Array(n)
      this.#loWords = new Int32Array(n)
    }
    this.#read(this.#hiWords, n, this.#hiAt + 4 * start)
    this.#read(this.#loWords, n, this.#loAt + 4 * start)
    const j = findEntry(this.#hiWords, this.#loWords, 0, n, khi, klo)
    return j === -1 ? -1 : start + j
  }

  // Reads n words at a byte position into `into` (little-endian on disk).
  #read(into: Int32Array, n: number, position: number): void {
    const bytes = new Uint8Array(into.buffer, into.byteOffset, 4 * n)
    readFully(this.#file.fd, bytes, position)
    if (!HOST_IS_LE) Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).swap32()
  }
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  for (let at = 0; at < into.length;) {
    const n = readSync(fd, into, at, into.length - at, position + at)
    if (n === 0) throw new SnapshotTruncatedError('the snapshot file being enforced was truncated under the node')
    at += n
  }
}

async function readFullyAsync(file: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < into.length;) {
    const { bytesRead } = await file.read(into, at, into.length - at, position + at)
    if (bytesRead === 0) throw new SnapshotTruncatedError('snapshot file is truncated')
    at += bytesRead
  }
}

// Pass one: framing and checksum, keeping the bucket table only.
async function checkFraming(file: FileHandle): Promise<CheckedSnapshot> {
  const decoder = new SnapshotDecoder({ size: (await file.stat()).size }, 'offsets')
  await readInto(decoder, file)
  return checkedSnapshot(decoder)
}

// Pass two: every entry checked as a load checks it (index.ts BaseLoader), and the filter built, a window at a time.
async function checkEntries(file: FileHandle, checked: CheckedSnapshot, falsePositiveRate: number): Promise<BlockedBloom> {
  const { parts, count } = checked
  const loader = new BaseLoader(parts, count, falsePositiveRate)
  const hiAt = HEADER_SIZE + parts.offsets.byteLength
  let window = WINDOW
  let hi = new Int32Array(window)
  let lo = new Int32Array(window)
  let values = new Int32Array(window)
  for (;;) {
    const first = loader.nextEntry
    const n = Math.min(window, count - first)
    const sections: Array<[Int32Array, number]> = [[hi, hiAt], [lo, hiAt + 4 * count], [values, hiAt + 8 * count]]
    for (const [words, at] of sections) {
      const bytes = new Uint8Array(words.buffer, 0, 4 * n)
      await readFullyAsync(file, bytes, at + 4 * first)
      if (!HOST_IS_LE) Buffer.from(bytes.buffer, 0, bytes.length).swap32()
    }
    if (loader.step(hi.subarray(0, n), lo.subarray(0, n), values.subarray(0, n), first, Infinity)) return loader.bloom
    if (loader.nextEntry === first) {
      // A bucket larger than the window (never in a snapshot the control plane or `leakgate index build` writes).
      window *= 2
      hi = new Int32Array(window)
      lo = new Int32Array(window)
      values = new Int32Array(window)
    }
    await yieldToLoop()
  }
}
