import { randomBytes } from 'node:crypto'
import t from 'tap'
import { encodeSnapshot, readSnapshotHeader, type SnapshotEntry } from './snapshot.js'
import { sha256Hex } from './token-hash.js'
import { damagedSnapshots, golden } from './test/snapshots.js'

const goldenEntries = [
  { sha256: sha256Hex('leaked-token-1'), action: 'block' as const, leakId: 1 },
  { sha256: sha256Hex('leaked-token-2'), action: 'monitor' as const, leakId: 2 },
  { sha256: sha256Hex('leaked-token-3'), action: 'block' as const, leakId: 300 },
]

t.test('encoding is stable: the golden version-1 fixture, byte for byte', async (t) => {
  t.same(encodeSnapshot(goldenEntries, 42), golden)
  t.same(encodeSnapshot([...goldenEntries].reverse(), 42), golden, 'input order does not matter')
  t.same(readSnapshotHeader(golden), { version: 1, count: 3, revision: 42, blockCount: 2, monitorCount: 1 })
  t.equal(golden.length, 64 + 36 * 3)
  t.equal(golden.subarray(0, 8).toString('latin1'), 'LGIDX\r\n\x1a')
  // First entry is the smallest digest: sha256("leaked-token-1") starts 0188…, leak 1, block.
  t.equal(golden.toString('hex', 32, 64), sha256Hex('leaked-token-1'))
  t.equal(golden.readUInt32BE(64), 1)
})

t.test('a truncated, corrupt or unknown snapshot is refused with its code', async (t) => {
  for (const [name, buf, code] of damagedSnapshots) {
    t.throws(() => readSnapshotHeader(buf), { code }, name)
  }
})

t.test('encodeSnapshot refuses bad input', async (t) => {
  t.throws(() => encodeSnapshot([{ sha256: 'zz', action: 'block', leakId: 1 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 0 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([{ sha256: sha256Hex('a'), action: 'drop' as 'block', leakId: 1 }], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
  t.throws(() => encodeSnapshot([goldenEntries[0]!, goldenEntries[0]!], 1), { code: 'LEAKGATE_ERR_INDEX_INPUT' }, 'a hash twice')
  t.throws(() => encodeSnapshot([], -1), { code: 'LEAKGATE_ERR_INDEX_INPUT' })
})

t.test('encoding sorts many digests, including ones equal in their first 8 bytes', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 5000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block', leakId: i + 1 }))
  const twin = Buffer.from(entries[0]!.sha256 as Buffer)
  twin[8] = twin[8]! ^ 0x80 // equal in the first 8 bytes, apart from there on
  entries.push({ sha256: twin, action: 'monitor', leakId: 9999 })
  const snap = encodeSnapshot(entries, 3)
  t.same(readSnapshotHeader(snap), { version: 1, count: entries.length, revision: 3, blockCount: entries.length - 1, monitorCount: 1 })
  const written = Array.from({ length: entries.length }, (_, i) => snap.toString('hex', 32 + 36 * i, 64 + 36 * i))
  t.same(written, entries.map((e) => Buffer.from(e.sha256 as Buffer).toString('hex')).sort(), 'every digest written once, ascending')
})
