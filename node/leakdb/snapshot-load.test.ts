// Loading snapshots into the index: the codec's own tests are in protocol/snapshot.test.ts.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import t from 'tap'
import { encodeParts, encodeSnapshot, type SnapshotEntry, type SnapshotParts } from '../../protocol/snapshot.js'
import { LeakIndex } from './index.js'
import { damagedSnapshots, golden } from '../../protocol/test/snapshots.js'
import { tempDir } from '../../test/support.js'

/** The four ways a node loads a snapshot: bytes in memory, a file (blocking or not), a stream of chunks. */
function loaders(t: Parameters<typeof tempDir>[0]): Array<[string, (bytes: Buffer) => Promise<LeakIndex>]> {
  const dir = tempDir(t)
  let n = 0
  const file = (bytes: Buffer): string => {
    const path = `${dir}/s${n++}.snapshot`
    writeFileSync(path, bytes)
    return path
  }
  return [
    ['fromSnapshot', async (bytes) => LeakIndex.fromSnapshot(bytes)],
    ['fromFileSync', async (bytes) => LeakIndex.fromFileSync(file(bytes))],
    ['fromFile', (bytes) => LeakIndex.fromFile(file(bytes))],
    // Chunks of 5 bytes: every section boundary falls inside a chunk somewhere.
    ['fromStream', (bytes) => LeakIndex.fromStream(Readable.from(Array.from({ length: Math.ceil(bytes.length / 5) }, (_, i) => bytes.subarray(5 * i, 5 * i + 5))))],
  ]
}

t.test('the golden fixture loads into an index that answers for each token, whichever way it is read', async (t) => {
  for (const [name, load] of loaders(t)) {
    const index = await load(golden)
    t.equal(index.revision, 42, name)
    t.equal(index.size, 3, name)
    t.same(index.check('leaked-token-1'), { action: 'block', leakId: 1 }, name)
    t.same(index.check('leaked-token-2'), { action: 'monitor', leakId: 2 }, name)
    t.same(index.check('leaked-token-3'), { action: 'block', leakId: 300 }, name)
    t.equal(index.check('leaked-token-4'), undefined, name)
  }
})

t.test('a truncated, corrupt, old or unknown snapshot is refused with its code, whichever way it is read', async (t) => {
  for (const [loader, load] of loaders(t)) {
    for (const [name, buf, code] of damagedSnapshots) {
      await t.rejects(load(buf), { code }, `${loader}: ${name}`)
    }
  }
})

t.test('a snapshot with a valid checksum but impossible content is refused', async (t) => {
  const offsets = (counts: Record<number, number>): Uint32Array => {
    const o = new Uint32Array(17)
    for (let b = 0; b < 16; b++) o[b + 1] = o[b]! + (counts[b] ?? 0)
    return o
  }
  const base: SnapshotParts = { revision: 1, bucketBits: 4, offsets: offsets({ 0: 2 }), hi: Uint32Array.of(3, 5), lo: Uint32Array.of(0, 0), values: Uint32Array.of(1, 2), blockCount: 2 }
  t.equal(LeakIndex.fromSnapshot(encodeParts(base)).size, 2, 'the base case loads')
  const cases: Array<[string, Partial<SnapshotParts>]> = [
    ['unsorted', { hi: Uint32Array.of(5, 3) }],
    ['repeated', { hi: Uint32Array.of(3, 3) }],
    ['leak id 0', { values: Uint32Array.of(1, 0) }],
    ['offsets that decrease', { offsets: Uint32Array.from(offsets({ 0: 2 }), (v, i) => (i === 3 ? 0 : v)) }],
    ['offsets that miss entries', { offsets: offsets({ 0: 1 }) }],
    ['a block count the values deny', { values: Uint32Array.of(1, 0x80000002) }],
  ]
  for (const [name, change] of cases) {
    t.throws(() => LeakIndex.fromSnapshot(encodeParts({ ...base, ...change })), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, name)
  }
})

t.test('a stream cut short, altered or too long is refused; nothing is built from it', async (t) => {
  const snap = encodeSnapshot(Array.from({ length: 50_000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block' as const, leakId: i + 1 })), 5)
  const chunks = (bytes: Buffer) => Readable.from(Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(65536 * i, 65536 * (i + 1))))
  await t.rejects(LeakIndex.fromStream(chunks(snap.subarray(0, snap.length - 1000))), { code: 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED' })
  const altered = Buffer.from(snap)
  altered[300_000] = altered[300_000]! ^ 0x10
  await t.rejects(LeakIndex.fromStream(chunks(altered)), { code: 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM' })
  await t.rejects(LeakIndex.fromStream(chunks(snap), {}, { size: snap.length + 1 }), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, 'a declared size other than the header\'s')
  await t.rejects(LeakIndex.fromStream(chunks(snap), {}, { maxBytes: snap.length - 1 }), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, 'over the limit')
  // The stream is left at the first framing error, not read to its end.
  let pulled = 0
  const endless = Readable.from((function* () {
    yield Buffer.from('not a snapshot, not even close to one'.padEnd(64, '.'))
    for (;;) {
      pulled++
      yield Buffer.alloc(65536)
    }
  })())
  await t.rejects(LeakIndex.fromStream(endless), { code: 'LEAKGATE_ERR_SNAPSHOT_MAGIC' })
  t.ok(pulled <= 20, `read ${pulled} chunks past the bad header`)
  t.ok(endless.destroyed, 'the stream is closed')
})

t.test('encoding sorts many digests, including ones equal in their first 8 bytes', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 5000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block', leakId: i + 1 }))
  const twin = Buffer.from(entries[0]!.sha256 as Buffer)
  twin[8] = twin[8]! ^ 0x80 // equal in the first 8 bytes, apart within the 74 bits the index keeps at this size
  entries.push({ sha256: twin, action: 'monitor', leakId: 9999 })
  const index = LeakIndex.fromSnapshot(encodeSnapshot(entries, 3))
  t.equal(index.size, entries.length)
  t.ok(entries.every((e) => index.checkDigest(e.sha256 as Buffer) !== undefined), 'every digest found')
})

t.test('exact confirmation: a clean digest is matched only if it agrees with a leaked one on every bit kept', async (t) => {
  const digests = randomBytes(32 * 100_000)
  const entries: SnapshotEntry[] = Array.from({ length: 100_000 }, (_, i) => ({ sha256: digests.subarray(32 * i, 32 * i + 32), action: 'block', leakId: i + 1 }))
  // 100 000 entries: 2^14 buckets, so 14 + 64 = 78 bits kept. A filter that lets half of everything
  // through sends most clean digests on to the exact table.
  const index = LeakIndex.fromSnapshot(encodeSnapshot(entries, 1), { falsePositiveRate: 0.5, cacheSize: 0 })
  let wrong = 0
  for (const e of entries.slice(0, 5000)) {
    for (const bit of [20, 40, 63, 70, 77]) {
      const near = Buffer.from(e.sha256 as Buffer)
      near[bit >> 3] = near[bit >> 3]! ^ (0x80 >> (bit & 7))
      if (index.checkDigest(near) !== undefined) wrong++
    }
    const far = Buffer.from(e.sha256 as Buffer)
    far[10] = far[10]! ^ 0x01 // bit 87, past the bits kept: the index cannot tell, as its bound says
    if (index.checkDigest(far) === undefined) wrong++
  }
  t.equal(wrong, 0, 'a digest one bit apart within the kept bits is clean; one apart past them is not told apart')
})

t.test('property: exact confirmation never gives a random clean token a verdict, against a large index', async (t) => {
  const n = 500_000
  const digests = randomBytes(32 * n)
  const index = LeakIndex.fromSnapshot(encodeSnapshot(Array.from({ length: n }, (_, i) => ({ sha256: digests.subarray(32 * i, 32 * i + 32), action: 'block' as const, leakId: i + 1 })), 1), { falsePositiveRate: 0.5, cacheSize: 0 })
  const tokens = 300_000
  const random = randomBytes(30 * tokens)
  let verdicts = 0
  for (let i = 0; i < tokens; i++) if (index.check(random.toString('base64url', 30 * i, 30 * i + 30)) !== undefined) verdicts++
  t.equal(verdicts, 0, `${tokens} random clean tokens, none blocked`)
  t.ok(index.stats.bloomFalsePositives > tokens / 10, `${index.stats.bloomFalsePositives} of them reached the exact table`)
})
