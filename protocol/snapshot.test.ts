import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { encodeSnapshot, readSnapshotHeader, type SnapshotEntry } from './snapshot.js'
import { sha256Hex } from './token-hash.js'

const golden = readFileSync(new URL('./fixtures/golden-v1.snapshot', import.meta.url))
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
  const cases: Array<[string, Buffer, string]> = [
    ['empty', Buffer.alloc(0), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
    ['header only', golden.subarray(0, 32), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
    ['cut in an entry', golden.subarray(0, golden.length - 40), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
    ['last byte missing', golden.subarray(0, golden.length - 1), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
    ['trailing garbage', Buffer.concat([golden, Buffer.from([0])]), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
    ['bad magic', patch(golden, 0, 0x4d), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
    ['future version', patch(golden, 9, 2), 'LEAKGATE_ERR_SNAPSHOT_VERSION'],
    ['flipped bit in an entry', patch(golden, 40, golden[40]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
    ['flipped bit in the checksum', patch(golden, golden.length - 1, golden[golden.length - 1]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
    ['text, not a snapshot', Buffer.from('{"entries": []}'.padEnd(80, ' ')), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
  ]
  for (const [name, buf, code] of cases) {
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

function patch(buf: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(buf)
  copy[at] = value
  return copy
}
