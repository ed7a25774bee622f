/**
 * The leak index snapshot: the whole index at one revision, as one file or one HTTP body.
 * The control plane writes it (encodeSnapshot); nodes read it with SnapshotDecoder, which fills the
 * index's own arrays as the bytes arrive (node/leakdb). The golden fixture `fixtures/golden-v2.snapshot`
 * pins the format: any change that alters a byte of it is a new format version.
 *
 * The layout IS the node's in-memory layout: a reader copies each section straight into a typed array
 * (from a file read or an HTTP chunk), so a load needs no second copy of the index and no parse.
 * Only the digest bits the index matches on travel: the first B + 64 bits of each SHA-256 (B = bucket
 * bits), as the bucket a hash falls in plus two 32-bit words (the node's index explains the bound).
 *
 * Byte layout, format version 2. Bytes 0-9 are the same in every version (magic, then the version as a
 * big-endian uint16, as version 1 wrote it), so any reader can tell which version a file is; every
 * other integer is little-endian, the byte order of the typed arrays it is read into.
 *
 *   offset     size        field
 *   0          8           magic "LGIDX\r\n\x1a" (4c 47 49 44 58 0d 0a 1a): the \r\n and ^Z catch text-mode mangling
 *   8          2           format version (uint16, big-endian) = 2; a reader refuses any other
 *   10         2           flags (uint16) = 0, reserved; a reader refuses non-zero
 *   12         4           entry count N (uint32)
 *   16         8           revision (uint64, at most 2^53 - 1)
 *   24         4           entries whose action is block (uint32)
 *   28         4           entries whose action is monitor (uint32); block + monitor = N
 *   32         1           bucket bits B, 4 to 24: the entries are cut into 2^B buckets by their digest's first B bits
 *   33         7           zero (reserved)
 *   40         4 × (2^B+1) offsets (uint32): offsets[b] = the first entry of bucket b, offsets[2^B] = N; non-decreasing
 *   then       4 × N       hi (uint32): digest bits B to B + 31 of each entry
 *   then       4 × N       lo (uint32): digest bits B + 32 to B + 63
 *   then       4 × N       value (uint32): bit 31 = action (0 block, 1 monitor), bits 0-30 = leak id (> 0)
 *   end        32          SHA-256 of every byte before it
 *
 * Entries are sorted by digest (so by bucket, then hi, then lo) and no two agree on all B + 64 bits.
 * Total size: 72 + 4 × (2^B + 1) + 12 × N bytes; B is about log2(N) - 3, so about 12.5 bytes an entry.
 */
import { createHash, type Hash } from 'node:crypto'
import { SnapshotTruncatedError, SnapshotMagicError, SnapshotVersionError, SnapshotChecksumError, SnapshotCorruptError, IndexInputError } from '../lib/errors.js'
import { isLeakAction, isLeakId, MAX_LEAK_ID, type LeakAction } from './leak.js'
import { isSha256Hex } from './token-hash.js'

/** One entry to write: a token's hash and its leak's verdict. */
export interface SnapshotEntry {
  /** Lowercase hex SHA-256, or the 32-byte digest. */
  sha256: string | Uint8Array
  action: LeakAction
  leakId: number
}

export const MAGIC = Buffer.from([0x4c, 0x47, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a])
export const FORMAT_VERSION = 2
export const HEADER_SIZE = 40
export const TRAILER_SIZE = 32
export const MONITOR_BIT = 0x80000000
/** The bits of an entry's value that hold the leak id. */
export const LEAK_ID_MASK = MAX_LEAK_ID
export const MIN_BUCKET_BITS = 4
export const MAX_BUCKET_BITS = 24
/** The largest snapshot a reader accepts unless told otherwise (about 170 million entries). */
export const MAX_SNAPSHOT_BYTES = 2 ** 31

/** The header fields of a snapshot. */
export interface SnapshotHeader {
  version: number
  count: number
  revision: number
  blockCount: number
  monitorCount: number
  bucketBits: number
}

/** A snapshot's content, in the arrays a node's index keeps (see the layout above). */
export interface SnapshotParts {
  revision: number
  bucketBits: number
  /** 2^bucketBits + 1 entries. */
  offsets: Uint32Array
  hi: Uint32Array
  lo: Uint32Array
  values: Uint32Array
  /** Entries whose action is block, as the header says (the index checks it against the values). */
  blockCount: number
}

/** Bucket bits for n entries: about 8 entries a bucket, so a lookup scans a few words. */
export function bucketBitsFor(n: number): number {
  return Math.min(MAX_BUCKET_BITS, Math.max(MIN_BUCKET_BITS, Math.ceil(Math.log2(Math.max(n, 1))) - 3))
}

/** Bytes of a snapshot of `count` entries cut into 2^bucketBits buckets. */
export function snapshotSize(count: number, bucketBits: number): number {
  return HEADER_SIZE + 4 * (2 ** bucketBits + 1) + 12 * count + TRAILER_SIZE
}

/** Packs an action and a leak id into an entry's value word. */
export function packValue(action: LeakAction, leakId: number): number {
  if (!isLeakId(leakId)) {
    throw new IndexInputError(`leak id must be an integer from 1 to ${MAX_LEAK_ID}, got ${String(leakId)}`)
  }
  if (!isLeakAction(action)) {
    throw new IndexInputError(`action must be "block" or "monitor", got ${JSON.stringify(action)}`)
  }
  return (action === 'monitor' ? MONITOR_BIT | leakId : leakId) >>> 0
}

// Typed arrays use the host's byte order; the format's is little-endian (every common host's).
const HOST_IS_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

function bytesOf(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/**
 * Collects entries (any order) and sorts them into snapshot parts. Holds 16 bytes of each digest while
 * it collects: the first 12 give the bits kept, the next 4 tell a repeated hash from two that only
 * share a prefix (two distinct SHA-256s agreeing on 128 bits: never, in practice).
 */
export class SnapshotBuilder {
  #w = new Uint32Array(4 * 1024)
  #values = new Uint32Array(1024)
  #n = 0

  /** Entries added so far. */
  get size(): number {
    return this.#n
  }

  /** Adds an entry. @throws {IndexInputError} on a bad hash, action or leak id. */
  add(entry: SnapshotEntry): void {
    const value = packValue(entry.action, entry.leakId)
    const d = entry.sha256
    if (typeof d === 'string') {
      if (!isSha256Hex(d)) throw new IndexInputError(`not a SHA-256 (64 lowercase hex characters): ${JSON.stringify(d.slice(0, 80))}`)
      this.addWords(parseInt(d.slice(0, 8), 16), parseInt(d.slice(8, 16), 16), parseInt(d.slice(16, 24), 16), parseInt(d.slice(24, 32), 16), value)
      return
    }
    if (d.length !== 32) throw new IndexInputError(`a SHA-256 digest has 32 bytes, got ${d.length}`)
    this.addWords(word(d, 0), word(d, 4), word(d, 8), word(d, 12), value)
  }

  /**
   * Adds an entry given as the first four big-endian words of its digest and its packed value
   * (packValue): the fast path of `leakgate index build`, which parses hex itself.
   */
  addWords(w0: number, w1: number, w2: number, w3: number, value: number): void {
    const n = this.#n
    if (n === this.#values.length) {
      const w = new Uint32Array(this.#w.length * 2)
      w.set(this.#w)
      this.#w = w
      const v = new Uint32Array(this.#values.length * 2)
      v.set(this.#values)
      this.#values = v
    }
    const w = this.#w
    w[4 * n] = w0
    w[4 * n + 1] = w1
    w[4 * n + 2] = w2
    w[4 * n + 3] = w3
    this.#values[n] = value
    this.#n = n + 1
  }

  /**
   * Sorts the entries into snapshot parts at `revision`. Two distinct hashes that agree on all the bits
   * kept (odds about N² / 2^(B+65): 1e-12 at 10 million) become one entry, block winning over monitor:
   * the index cannot tell them apart, and both are leaked.
   * @param describe names entry i (0-based, in the order added) in errors; default "entry i+1".
   * @throws {IndexInputError} on a bad revision or a hash given twice.
   */
  build(revision: number, describe: (i: number) => string = (i) => `entry ${i + 1}`): SnapshotParts {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new IndexInputError(`revision must be a non-negative safe integer, got ${String(revision)}`)
    }
    const n = this.#n
    const w = this.#w
    const order = sortEntries(w, n)
    for (let k = 1; k < n; k++) {
      const a = order[k - 1]! * 4
      const b = order[k]! * 4
      if (w[a] === w[b] && w[a + 1] === w[b + 1] && w[a + 2] === w[b + 2] && w[a + 3] === w[b + 3]) {
        const [first, second] = order[k - 1]! < order[k]! ? [order[k - 1]!, order[k]!] : [order[k]!, order[k - 1]!]
        throw new IndexInputError(`${describe(second)}: hash repeated (${describe(first)} has it too)`)
      }
    }
    const B = bucketBitsFor(n)
    const R = 32 - B
    const buckets = 2 ** B
    const offsets = new Uint32Array(buckets + 1)
    let hi = new Uint32Array(n)
    let lo = new Uint32Array(n)
    let values = new Uint32Array(n)
    let m = 0
    let cursor = 0
    let blockCount = 0
    for (let k = 0; k < n; k++) {
      const i = order[k]!
      const w0 = w[4 * i]!
      const w1 = w[4 * i + 1]!
      const w2 = w[4 * i + 2]!
      const bucket = w0 >>> R
      const h = ((w0 << B) | (w1 >>> R)) >>> 0
      const l = ((w1 << B) | (w2 >>> R)) >>> 0
      const value = this.#values[i]!
      if (m > 0 && cursor === bucket + 1 && hi[m - 1] === h && lo[m - 1] === l) {
        if ((value & MONITOR_BIT) === 0 && (values[m - 1]! & MONITOR_BIT) !== 0) {
          values[m - 1] = value
          blockCount++
        }
        continue
      }
      while (cursor <= bucket) offsets[cursor++] = m
      hi[m] = h
      lo[m] = l
      values[m] = value
      if ((value & MONITOR_BIT) === 0) blockCount++
      m++
    }
    while (cursor <= buckets) offsets[cursor++] = m
    if (m < n) {
      hi = hi.slice(0, m)
      lo = lo.slice(0, m)
      values = values.slice(0, m)
    }
    return { revision, bucketBits: B, offsets, hi, lo, values, blockCount }
  }
}

function word(d: Uint8Array, at: number): number {
  return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0
}

/** Encodes entries (any order) into a snapshot at `revision`. Throws on a bad or repeated hash. */
export function encodeSnapshot(entries: Iterable<SnapshotEntry>, revision: number): Buffer {
  const builder = new SnapshotBuilder()
  for (const entry of entries) builder.add(entry)
  return encodeParts(builder.build(revision))
}

/** Encodes snapshot parts into one buffer. */
export function encodeParts(parts: SnapshotParts): Buffer {
  const out = Buffer.allocUnsafe(snapshotSize(parts.values.length, parts.bucketBits))
  let at = 0
  for (const chunk of snapshotChunks(parts)) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

const CHUNK = 1 << 20

/**
 * The bytes of a snapshot of `parts`, in pieces of at most 1 MiB, checksum computed as they are
 * yielded: views of the arrays themselves (copies on a big-endian host), so writing a loaded index
 * back to disk takes no second copy of it.
 */
export function* snapshotChunks(parts: SnapshotParts): Generator<Uint8Array> {
  const n = parts.values.length
  if (parts.hi.length !== n || parts.lo.length !== n || parts.offsets.length !== 2 ** parts.bucketBits + 1) {
    throw new IndexInputError('snapshot parts disagree on their sizes')
  }
  const hash = createHash('sha256')
  const header = Buffer.alloc(HEADER_SIZE)
  MAGIC.copy(header, 0)
  header.writeUInt16BE(FORMAT_VERSION, 8)
  header.writeUInt32LE(n, 12)
  header.writeUInt32LE(parts.revision % 2 ** 32, 16)
  header.writeUInt32LE(Math.floor(parts.revision / 2 ** 32), 20)
  header.writeUInt32LE(parts.blockCount, 24)
  header.writeUInt32LE(n - parts.blockCount, 28)
  header[32] = parts.bucketBits
  hash.update(header)
  yield header
  for (const section of [parts.offsets, parts.hi, parts.lo, parts.values]) {
    const bytes = bytesOf(section)
    for (let at = 0; at < bytes.length; at += CHUNK) {
      let piece = bytes.subarray(at, Math.min(bytes.length, at + CHUNK))
      if (!HOST_IS_LE) piece = Buffer.from(piece).swap32()
      hash.update(piece)
      yield piece
    }
  }
  yield hash.digest()
}

/** Limits of a decoder. */
export interface DecodeLimits {
  /** The whole snapshot's size when known (a file's): a mismatch is refused before anything is allocated. */
  size?: number
  /** The largest snapshot accepted; default MAX_SNAPSHOT_BYTES. */
  maxBytes?: number
}

/**
 * What a decoder keeps: `all` the arrays (to load an index), or only the `offsets`, the entry sections
 * being checksummed as they pass and not kept (to check a snapshot written to a file, at constant memory:
 * the parts then have empty hi, lo and values).
 */
export type DecodeKeep = 'all' | 'offsets'

// A section skipped (checksummed, not kept) is its length in bytes.
type Section = Uint8Array | number

const SKIP_SCRATCH = 1 << 20

/**
 * Reads a snapshot as it arrives, into the arrays it describes: give it chunks (`push`), or read
 * straight into `target()` and call `advance`; then `end()` checks the checksum and hands the arrays
 * over. Framing errors are thrown as soon as they are seen (a version-1 file at its first 40 bytes).
 */
export class SnapshotDecoder {
  readonly #limits: DecodeLimits
  readonly #keep: DecodeKeep
  readonly #hash: Hash = createHash('sha256')
  readonly #header = new Uint8Array(HEADER_SIZE)
  readonly #trailer = new Uint8Array(TRAILER_SIZE)
  // What is filled next, in order: the header, then (once it is read) the four arrays and the trailer.
  readonly #targets: Section[] = [this.#header]
  // Where a skipped section is read to, through `target()` (allocated on first use).
  #scratch: Uint8Array | undefined
  #current = 0
  #filled = 0
  #received = 0
  #parts: SnapshotParts | undefined
  #expected = -1

  constructor(limits: DecodeLimits = {}, keep: DecodeKeep = 'all') {
    this.#limits = limits
    this.#keep = keep
  }

  /** The header, once its 40 bytes are in (checked); undefined before. */
  get header(): SnapshotHeader | undefined {
    return this.#parts === undefined ? undefined : readHeader(this.#header)
  }

  /** The snapshot's checksum (its last 32 bytes), as received; meaningful once `end()` has accepted it. */
  get checksum(): Uint8Array {
    return this.#trailer
  }

  /** Where the next bytes go: the unfilled rest of the current section; empty once the snapshot is complete. */
  target(): Uint8Array {
    const t = this.#targets[this.#current]
    if (t === undefined) return new Uint8Array(0)
    if (typeof t !== 'number') return t.subarray(this.#filled)
    this.#scratch ??= new Uint8Array(SKIP_SCRATCH)
    return this.#scratch.subarray(0, Math.min(SKIP_SCRATCH, t - this.#filled))
  }

  /** Records that the first `n` bytes of `target()` were filled. */
  advance(n: number): void {
    const t = this.#targets[this.#current]
    if (t === undefined || n > lengthOf(t) - this.#filled || (typeof t === 'number' && n > SKIP_SCRATCH)) throw new RangeError('advance past the target')
    if (typeof t === 'number') this.#hash.update(this.#scratch!.subarray(0, n))
    else if (t !== this.#trailer) this.#hash.update(t.subarray(this.#filled, this.#filled + n))
    this.#consumed(t, n)
  }

  #consumed(t: Section, n: number): void {
    this.#filled += n
    this.#received += n
    if (this.#filled < lengthOf(t)) return
    if (t === this.#header) this.#readHeader()
    this.#current++
    this.#filled = 0
    // Skip empty sections (no entries), so target() is empty only at the very end.
    while (this.#targets[this.#current] !== undefined && lengthOf(this.#targets[this.#current]!) === 0) this.#current++
  }

  /** Copies a chunk in (a skipped section's bytes are only checksummed). @throws {SnapshotCorruptError} on bytes past the snapshot's end, or any framing error. */
  push(chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.length) {
      const t = this.#targets[this.#current]
      if (t === undefined) throw new SnapshotCorruptError(`snapshot has unexpected trailing bytes (more than the ${this.#received} its header announces)`)
      const n = Math.min(lengthOf(t) - this.#filled, chunk.length - at)
      if (typeof t === 'number') {
        this.#hash.update(chunk.subarray(at, at + n))
        this.#consumed(t, n)
      } else {
        t.set(chunk.subarray(at, at + n), this.#filled)
        this.advance(n)
      }
      at += n
    }
  }

  /**
   * Checks that the snapshot is complete and its checksum right; returns its parts (with `keep`
   * `offsets`, their hi, lo and values are empty). Entry order is checked by the index as it builds
   * its filter (one pass instead of two).
   */
  end(): SnapshotParts {
    const parts = this.#parts
    if (parts === undefined) {
      this.#checkStart(this.#header.subarray(0, this.#filled))
      throw new SnapshotTruncatedError(`snapshot is truncated: ${this.#received} bytes, a valid one has at least ${HEADER_SIZE + TRAILER_SIZE}`)
    }
    if (this.#current < this.#targets.length) {
      throw new SnapshotTruncatedError(`snapshot is truncated: ${this.#received} bytes, its header announces ${this.#expected}`)
    }
    if (!Buffer.from(this.#hash.digest()).equals(this.#trailer)) {
      throw new SnapshotChecksumError('snapshot checksum does not match its content (corrupt or altered)')
    }
    if (!HOST_IS_LE) for (const a of [parts.offsets, parts.hi, parts.lo, parts.values]) Buffer.from(a.buffer, a.byteOffset, a.byteLength).swap32()
    return parts
  }

  // The magic and version, on what has arrived of them: a short file says what it is not before "truncated".
  #checkStart(start: Uint8Array): void {
    const b = Buffer.from(start.buffer, start.byteOffset, start.length)
    const m = Math.min(8, b.length)
    if (!b.subarray(0, m).equals(MAGIC.subarray(0, m))) throw new SnapshotMagicError('not a Leakgate index snapshot (bad magic bytes)')
    if (b.length < 10) return
    const version = b.readUInt16BE(8)
    if (version !== FORMAT_VERSION) throw versionError(version)
  }

  #readHeader(): void {
    const header = readHeader(this.#header)
    const n = header.count
    const B = header.bucketBits
    const expected = snapshotSize(n, B)
    this.#expected = expected
    const max = this.#limits.maxBytes ?? MAX_SNAPSHOT_BYTES
    if (expected > max) throw new SnapshotCorruptError(`snapshot announces ${expected} bytes, more than the ${max} accepted`)
    const size = this.#limits.size
    if (size !== undefined && size < expected) throw new SnapshotTruncatedError(`snapshot is truncated: ${size} bytes, its header announces ${expected}`)
    if (size !== undefined && size > expected) throw new SnapshotCorruptError(`snapshot has ${size - expected} unexpected trailing bytes`)
    const kept = this.#keep === 'all' ? n : 0
    const parts: SnapshotParts = {
      revision: header.revision,
      bucketBits: B,
      offsets: new Uint32Array(2 ** B + 1),
      hi: new Uint32Array(kept),
      lo: new Uint32Array(kept),
      values: new Uint32Array(kept),
      blockCount: header.blockCount,
    }
    this.#parts = parts
    if (this.#keep === 'all') this.#targets.push(bytesOf(parts.offsets), bytesOf(parts.hi), bytesOf(parts.lo), bytesOf(parts.values), this.#trailer)
    else this.#targets.push(bytesOf(parts.offsets), 12 * n, this.#trailer)
  }
}

function lengthOf(section: Section): number {
  return typeof section === 'number' ? section : section.length
}

/**
 * Parses and checks a snapshot's 40-byte header.
 * @throws a snapshot error (lib/errors.ts) on bad magic, another version, flags or reserved bytes set, or counts that disagree.
 */
function readHeader(bytes: Uint8Array): SnapshotHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (!b.subarray(0, 8).equals(MAGIC)) throw new SnapshotMagicError('not a Leakgate index snapshot (bad magic bytes)')
  const version = b.readUInt16BE(8)
  if (version !== FORMAT_VERSION) throw versionError(version)
  if (b.readUInt16LE(10) !== 0) throw new SnapshotCorruptError('snapshot has unknown flags set')
  if (b.subarray(33, 40).some((x) => x !== 0)) throw new SnapshotCorruptError('snapshot has reserved header bytes set')
  const count = b.readUInt32LE(12)
  const revision = b.readUInt32LE(16) + b.readUInt32LE(20) * 2 ** 32
  if (!Number.isSafeInteger(revision)) throw new SnapshotCorruptError('snapshot revision is out of range')
  const blockCount = b.readUInt32LE(24)
  const monitorCount = b.readUInt32LE(28)
  if (blockCount + monitorCount !== count) {
    throw new SnapshotCorruptError(`snapshot counts disagree: ${blockCount} block + ${monitorCount} monitor != ${count}`)
  }
  const bucketBits = b[32]!
  if (bucketBits < MIN_BUCKET_BITS || bucketBits > MAX_BUCKET_BITS) {
    throw new SnapshotCorruptError(`snapshot bucket bits ${bucketBits} are out of range (${MIN_BUCKET_BITS} to ${MAX_BUCKET_BITS})`)
  }
  return { version, count, revision, blockCount, monitorCount, bucketBits }
}

function versionError(version: number): Error {
  if (version < FORMAT_VERSION) {
    return new SnapshotVersionError(`snapshot format version ${version} is older than this build reads (version ${FORMAT_VERSION}): fetch a fresh snapshot, or rebuild the file with this version's \`leakgate index build\``)
  }
  return new SnapshotVersionError(`snapshot format version ${version} is not supported (this build reads version ${FORMAT_VERSION}); upgrade the node`)
}

/**
 * Checks a whole snapshot held in memory (framing, header, size and checksum) and returns its header,
 * without allocating its arrays. Entry order is checked by the index as it loads them.
 */
export function readSnapshotHeader(buf: Uint8Array): SnapshotHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.length < HEADER_SIZE + TRAILER_SIZE) {
    // The decoder says what is wrong with a short start: bad magic, another version, or truncated.
    const decoder = new SnapshotDecoder()
    decoder.push(b)
    decoder.end()
  }
  const header = readHeader(b.subarray(0, HEADER_SIZE))
  const expected = snapshotSize(header.count, header.bucketBits)
  if (b.length < expected) throw new SnapshotTruncatedError(`snapshot is truncated: ${b.length} bytes, its header announces ${expected}`)
  if (b.length > expected) throw new SnapshotCorruptError(`snapshot has ${b.length - expected} unexpected trailing bytes`)
  const body = expected - TRAILER_SIZE
  if (!createHash('sha256').update(b.subarray(0, body)).digest().equals(b.subarray(body))) {
    throw new SnapshotChecksumError('snapshot checksum does not match its content (corrupt or altered)')
  }
  return header
}

/** The entry count in the header of a snapshot this process encoded (no check: for sizing decisions only). */
export function snapshotCount(buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32LE(12)
}

/**
 * Orders n entries (four big-endian digest words each, packed in `w`) by digest. An LSD radix sort on the
 * first 64 bits (four 16-bit passes over an index permutation) runs in linear time, where a comparator sort
 * took seconds a million; runs equal in those bits (none in practice, unless a hash is repeated) are then
 * ordered by the next 64.
 */
function sortEntries(w: Uint32Array, n: number): Uint32Array {
  let order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  let spare = new Uint32Array(n)
  const counts = new Uint32Array(65537)
  const passes: Array<[number, number]> = [[1, 0], [1, 16], [0, 0], [0, 16]]
  for (const [wi, shift] of passes) {
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[((w[4 * i + wi]! >>> shift) & 0xffff) + 1]!++
    for (let d = 1; d <= 65536; d++) counts[d]! += counts[d - 1]!
    for (let i = 0; i < n; i++) {
      const idx = order[i]!
      spare[counts[(w[4 * idx + wi]! >>> shift) & 0xffff]!++] = idx
    }
    const t = order
    order = spare
    spare = t
  }
  for (let i = 1; i < n; i++) {
    const a = order[i - 1]! * 4
    if (w[a] !== w[order[i]! * 4] || w[a + 1] !== w[order[i]! * 4 + 1]) continue
    let j = i + 1
    while (j < n && w[order[j]! * 4] === w[a] && w[order[j]! * 4 + 1] === w[a + 1]) j++
    const run = Array.from(order.subarray(i - 1, j)).sort((x, y) => w[4 * x + 2]! - w[4 * y + 2]! || w[4 * x + 3]! - w[4 * y + 3]!)
    order.set(run, i - 1)
    i = j - 1
  }
  return order
}
