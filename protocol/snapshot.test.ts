import { randomBytes } from 'node:crypto'
import t from 'tap'
import { encodeSnapshot, readSnapshotHeader, snapshotSize, SnapshotDecoder, type SnapshotEntry } from './snapshot.js'
import { sha256Hex } from './token-hash.js'
import { damagedSnapshots, golden } from './test/snapshots.js'

const goldenEntries = [
  { sha256: sha256Hex('leaked-token-1'), action: 'block' as const, leakId: 1 },
  { sha256: sha256Hex('leaked-token-2'), action: 'monitor' as const, leakId: 2 },
  { sha256: sha256Hex('leaked-token-3'), action: 'block' as const, leakId: 300 },
]

t.test('encoding is stable: the golden version-2 fixture, byte for byte', async (t) => {
  t.same(encodeSnapshot(goldenEntries, 42), golden)
  t.same(encodeSnapshot([...goldenEntries].reverse(), 42), golden, 'input order does not matter')
  t.same(readSnapshotHeader(golden), { version: 2, count: 3, revision: 42, blockCount: 2, monitorCount: 1, bucketBits: 4 })
  t.equal(golden.length, snapshotSize(3, 4))
  t.equal(golden.length, 40 + 4 * 17 + 12 * 3 + 32)
  t.equal(golden.subarray(0, 8).toString('latin1'), 'LGIDX\r\n\x1a')
  t.equal(golden.readUInt16BE(8), 2, 'the version is big-endian, where version 1 had it')
  // sha256("leaked-token-1") starts 01 88 08 77 9b 80 43 29 00 6c f6 d7: bucket 0 (its first 4 bits),
  // hi = the next 32 bits (0x18808779), lo = the 32 after (0xb8043290); the smallest digest comes first.
  const sections = 40 + 4 * 17
  t.equal(golden.readUInt32LE(40), 0, 'bucket 0 starts at entry 0')
  t.equal(golden.readUInt32LE(40 + 4 * 16), 3, 'the last offset is the count')
  t.equal(golden.readUInt32LE(sections), 0x18808779)
  t.equal(golden.readUInt32LE(sections + 12), 0xb8043290)
  t.equal(golden.readUInt32LE(sections + 24), 1, 'value: block, leak 1')
  t.equal(golden.readUInt32LE(sections + 28), 300, 'value: block, leak 300 (sha256("leaked-token-3") starts 1b…)')
  t.equal(golden.readUInt32LE(sections + 32), 0x80000002, 'value: monitor, leak 2')
})

t.test('a truncated, corrupt or unknown snapshot is refused with its code', async (t) => {
  for (const [name, buf, code] of damagedSnapshots) {
    t.throws(() => readSnapshotHeader(buf), { code }, name)
  }
})

t.test('the decoder gives the same parts whatever the chunking, and refuses bytes past the end', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 3000 }, (_, i) => ({ sha256: randomBytes(32), action: i % 3 === 0 ? 'monitor' : 'block', leakId: i + 1 }))
  const snap = encodeSnapshot(entries, 9)
  const whole = new SnapshotDecoder()
  whole.push(snap)
  const expected = whole.end()
  for (const size of [1, 7, 4096]) {
    const d = new SnapshotDecoder()
    for (let at = 0; at < snap.length; at += size) d.push(snap.subarray(at, at + size))
    t.same(d.end(), expected, `chunks of ${size}`)
  }
  t.equal(expected.values.length, 3000)
  t.equal(expected.blockCount, 2000)
  const extra = new SnapshotDecoder()
  t.throws(() => extra.push(Buffer.concat([snap, Buffer.from([1])])), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' })
  t.throws(() => new SnapshotDecoder({ size: snap.length - 1 }).push(snap.subarray(0, 40)), { code: 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED' }, 'a known size short of the header\'s is refused at the header')
  t.throws(() => new SnapshotDecoder({ maxBytes: 1000 }).push(snap.subarray(0, 40)), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, 'more than the limit is refused before anything is allocated')
})

t.test('a decoder keeping only the offsets checks the same bytes at constant memory, pushed or read into its target', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 200_000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block', leakId: i + 1 }))
  const snap = encodeSnapshot(entries, 5)
  const whole = new SnapshotDecoder()
  whole.push(snap)
  const expected = whole.end()
  for (const size of [1000, 65_536]) {
    const d = new SnapshotDecoder({ size: snap.length }, 'offsets')
    for (let at = 0; at < snap.length; at += size) d.push(snap.subarray(at, at + size))
    const parts = d.end()
    t.same(parts.offsets, expected.offsets, `pushed in chunks of ${size}: the bucket table`)
    t.equal(parts.hi.length + parts.lo.length + parts.values.length, 0, 'no entry kept')
    t.equal(d.header?.count, 200_000)
    t.ok(Buffer.from(d.checksum).equals(snap.subarray(snap.length - 32)), 'the checksum')
  }
  // Read into its target, as from a file: the entry sections go through one scratch buffer of at most 1 MiB.
  const read = new SnapshotDecoder({}, 'offsets')
  let at = 0
  let largest = 0
  for (let target = read.target(); target.length > 0; target = read.target()) {
    const n = Math.min(target.length, 300_000, snap.length - at)
    largest = Math.max(largest, target.length)
    target.set(snap.subarray(at, at + n))
    at += n
    read.advance(n)
  }
  t.same(read.end().offsets, expected.offsets)
  t.ok(largest <= 1 << 20, `targets of at most 1 MiB (${largest})`)
  const bad = Buffer.from(snap)
  bad[snap.length - 1000]! ^= 1 // in the values, which are not kept
  const refused = new SnapshotDecoder({}, 'offsets')
  refused.push(bad)
  t.throws(() => refused.end(), { code: 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM' }, 'a changed byte in a section not kept is still refused')
  const short = new SnapshotDecoder({}, 'offsets')
  short.push(snap.subarray(0, snap.length - 10))
  t.throws(() => short.end(), { code: 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED' })
})

t.test('encodeSnapshot refuses bad input', async (t) => {
  t.throws(() => encodeSnapshot([{ sha256: 'zz', action: 'block', leakId: 1 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 0 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([{ sha256: sha256Hex('a'), action: 'drop' as 'block', leakId: 1 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([goldenEntries[0]!, goldenEntries[0]!], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT', message: /entry 2: hash repeated \(entry 1/ }, 'a hash twice')
  t.throws(() => encodeSnapshot([], -1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
})

t.test('encoding sorts many digests, including ones equal in their first 8 bytes', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 5000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block', leakId: i + 1 }))
  const twin = Buffer.from(entries[0]!.sha256 as Buffer)
  twin[8] = twin[8]! ^ 0x80 // equal in the first 8 bytes, apart from there on
  entries.push({ sha256: twin, action: 'monitor', leakId: 9999 })
  const snap = encodeSnapshot(entries, 3)
  t.same(readSnapshotHeader(snap), { version: 2, count: entries.length, revision: 3, blockCount: entries.length - 1, monitorCount: 1, bucketBits: 10 })
  const d = new SnapshotDecoder()
  d.push(snap)
  const { offsets, hi, lo } = d.end()
  // Rebuild each entry's first B + 64 bits (B = 10) and compare with the digests, sorted.
  const written: bigint[] = []
  for (let b = 0; b < 1024; b++) {
    for (let i = offsets[b]!; i < offsets[b + 1]!; i++) written.push((BigInt(b) << 64n) | (BigInt(hi[i]!) << 32n) | BigInt(lo[i]!))
  }
  const expected = entries.map((e) => BigInt('0x' + Buffer.from(e.sha256 as Buffer).toString('hex')) >> (256n - 74n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  t.same(written, expected, 'every digest written once, ascending, as its first 74 bits')
})

t.test('two hashes that agree on every bit kept become one entry, block winning', async (t) => {
  const a = randomBytes(32)
  const b = Buffer.from(a)
  b[12] = b[12]! ^ 1 // apart in bit 103 only, past the 68 kept at this size: the index cannot tell them apart
  const snap = encodeSnapshot([{ sha256: a, action: 'monitor', leakId: 1 }, { sha256: b, action: 'block', leakId: 2 }], 1)
  t.match(readSnapshotHeader(snap), { count: 1, blockCount: 1, monitorCount: 0 })
})
