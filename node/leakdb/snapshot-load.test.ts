// Loading snapshots into the index: the codec's own tests are in protocol/snapshot.test.ts.
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { encodeSnapshot, type SnapshotEntry } from '../../protocol/snapshot.js'
import { LeakIndex } from './index.js'
import { damagedSnapshots, golden } from '../../protocol/test/snapshots.js'

t.test('the golden fixture loads into an index that answers for each token', async (t) => {
  const index = LeakIndex.fromSnapshot(golden)
  t.equal(index.revision, 42)
  t.equal(index.size, 3)
  t.same(index.check('leaked-token-1'), { action: 'block', leakId: 1 })
  t.same(index.check('leaked-token-2'), { action: 'monitor', leakId: 2 })
  t.same(index.check('leaked-token-3'), { action: 'block', leakId: 300 })
  t.equal(index.check('leaked-token-4'), undefined)
})

t.test('a truncated, corrupt or unknown snapshot is refused with its code', async (t) => {
  for (const [name, buf, code] of damagedSnapshots) {
    t.throws(() => LeakIndex.fromSnapshot(buf), { code }, name)
  }
})

t.test('a snapshot with a valid checksum but unsorted or repeated entries is refused', async (t) => {
  // Swap the first two entries and re-seal: the checksum is right, the order is not.
  const body = Buffer.from(golden.subarray(0, golden.length - 32))
  const first = Buffer.from(body.subarray(32, 68))
  body.copy(body, 32, 68, 104)
  first.copy(body, 68)
  t.throws(() => LeakIndex.fromSnapshot(reseal(body)), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, 'unsorted')
  const repeated = Buffer.from(golden.subarray(0, golden.length - 32))
  repeated.copy(repeated, 68, 32, 64)
  t.throws(() => LeakIndex.fromSnapshot(reseal(repeated)), { code: 'LEAKGATE_ERR_SNAPSHOT_CORRUPT' }, 'repeated')
})

t.test('encoding sorts many digests, including ones equal in their first 8 bytes', async (t) => {
  const entries: SnapshotEntry[] = Array.from({ length: 5000 }, (_, i) => ({ sha256: randomBytes(32), action: 'block', leakId: i + 1 }))
  const twin = Buffer.from(entries[0]!.sha256 as Buffer)
  twin[8] = twin[8]! ^ 0x80 // equal in the first 8 bytes, apart within the 85 bits the index keeps
  entries.push({ sha256: twin, action: 'monitor', leakId: 9999 })
  const index = LeakIndex.fromSnapshot(encodeSnapshot(entries, 3))
  t.equal(index.size, entries.length)
  t.ok(entries.every((e) => index.checkDigest(e.sha256 as Buffer) !== undefined), 'every digest found')
})

function reseal(body: Buffer): Buffer {
  return Buffer.concat([body, createHash('sha256').update(body).digest()])
}
