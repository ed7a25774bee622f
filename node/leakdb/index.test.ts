import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sha256Digest, sha256Hex } from '../../protocol/token-hash.js'
import type { Change } from '../../protocol/changes.js'
import { LeakIndex } from './index.js'
import { writeFileSync } from 'node:fs'
import { encodeParts, encodeSnapshot } from '../../protocol/snapshot.js'
import { tempDir } from '../../test/support.js'

function randomEntries(n: number) {
  const digests = randomBytes(32 * n)
  return Array.from({ length: n }, (_, i) => ({ sha256: digests.subarray(32 * i, 32 * i + 32), action: (i % 2 === 0 ? 'block' : 'monitor') as 'block' | 'monitor', leakId: i + 1 }))
}

t.test('no false negative: every inserted hash is found with its verdict', async (t) => {
  const entries = randomEntries(200_000)
  const index = LeakIndex.fromSnapshot(encodeSnapshot(entries, 1))
  let wrong = 0
  for (const e of entries) {
    const got = index.checkDigest(e.sha256)
    if (got === undefined || got.leakId !== e.leakId || got.action !== e.action) wrong++
  }
  t.equal(wrong, 0)
})

for (const rate of [0.01, 0.001]) {
  t.test(`bloom false-positive rate within its bound (${rate}) on 100k fresh keys`, async (t) => {
    const index = LeakIndex.fromSnapshot(encodeSnapshot(randomEntries(200_000), 1), { falsePositiveRate: rate, cacheSize: 0 })
    let leakedVerdicts = 0
    const random = randomBytes(24 * 100_000)
    for (let i = 0; i < 100_000; i++) if (index.check(random.toString('base64url', 24 * i, 24 * i + 24)) !== undefined) leakedVerdicts++
    const measured = index.stats.bloomFalsePositives / 100_000
    t.equal(leakedVerdicts, 0, 'no clean key is ever given a verdict')
    t.ok(measured <= rate, `measured ${measured} <= ${rate}`)
  })
}

t.test('the LRU answers repeated credentials and is cleared by any change', async (t) => {
  const index = LeakIndex.fromSnapshot(encodeSnapshot([{ sha256: sha256Hex('tok-a'), action: 'block', leakId: 5 }], 10))
  t.equal(index.check('tok-b'), undefined)
  t.equal(index.check('tok-b'), undefined)
  t.same(index.stats, { cacheHits: 1, cacheMisses: 1, bloomFalsePositives: index.stats.bloomFalsePositives })
  index.applyChanges([{ rev: 11, op: 'upsert', sha256: sha256Hex('tok-b'), action: 'monitor', leakId: 6 }])
  t.same(index.check('tok-b'), { action: 'monitor', leakId: 6 }, 'a cached clean verdict does not outlive the change')
  t.same(index.check('tok-a'), { action: 'block', leakId: 5 })
  index.applyChanges([{ rev: 12, op: 'upsert', sha256: sha256Hex('tok-a'), action: 'monitor', leakId: 5 }])
  t.same(index.check('tok-a'), { action: 'monitor', leakId: 5 }, 'a cached verdict is replaced after the change')
})

t.test('live changes: upsert, delete, re-add, replay and revision', async (t) => {
  const index = LeakIndex.fromSnapshot(encodeSnapshot([
    { sha256: sha256Hex('base-1'), action: 'block', leakId: 1 },
    { sha256: sha256Hex('base-2'), action: 'block', leakId: 2 },
  ], 100))
  const changes: Change[] = [
    { rev: 101, op: 'upsert', sha256: sha256Hex('new-1'), action: 'block', leakId: 3 },
    { rev: 102, op: 'delete', sha256: sha256Hex('base-1') },
    { rev: 103, op: 'upsert', sha256: sha256Hex('base-2'), action: 'monitor', leakId: 2 },
    { rev: 104, op: 'delete', sha256: sha256Hex('never-there') },
  ]
  index.applyChanges(changes)
  t.equal(index.revision, 104)
  t.equal(index.size, 2)
  t.same(index.check('new-1'), { action: 'block', leakId: 3 })
  t.equal(index.check('base-1'), undefined)
  t.same(index.check('base-2'), { action: 'monitor', leakId: 2 })
  t.notOk(index.has(sha256Hex('base-1')))
  index.applyChanges(changes)
  t.equal(index.size, 2, 'replaying applied changes changes nothing')
  index.applyChanges([{ rev: 105, op: 'upsert', sha256: sha256Hex('base-1'), action: 'block', leakId: 1 }], 110)
  t.same(index.check('base-1'), { action: 'block', leakId: 1 }, 'reopened')
  t.equal(index.size, 3)
  t.equal(index.revision, 110)
})

t.test('a bad change batch is refused whole and the index is unchanged', async (t) => {
  const index = LeakIndex.fromSnapshot(encodeSnapshot([{ sha256: sha256Hex('keep'), action: 'block', leakId: 1 }], 5))
  const good: Change = { rev: 6, op: 'upsert', sha256: sha256Hex('would-add'), action: 'block', leakId: 2 }
  const bad: unknown[] = [
    { rev: 7, op: 'upsert', sha256: 'nothex', action: 'block', leakId: 2 },
    { rev: 7, op: 'upsert', sha256: sha256Hex('x'), action: 'allow', leakId: 2 },
    { rev: 7, op: 'upsert', sha256: sha256Hex('x'), action: 'block', leakId: 0 },
    { rev: 7, op: 'upsert', sha256: sha256Hex('x'), action: 'block' },
    { rev: 6, op: 'delete', sha256: sha256Hex('keep') },
    { rev: 7, op: 'purge', sha256: sha256Hex('keep') },
    { rev: 'seven', op: 'delete', sha256: sha256Hex('keep') },
    null,
  ]
  for (const b of bad) {
    t.throws(() => index.applyChanges([good, b as Change]), { code: 'LEAKGATE_ERR_CHANGE_INVALID' }, JSON.stringify(b))
  }
  t.equal(index.revision, 5)
  t.equal(index.size, 1)
  t.equal(index.check('would-add'), undefined)
  t.same(index.check('keep'), { action: 'block', leakId: 1 })
})

t.test('an empty index answers clean for everything', async (t) => {
  const index = LeakIndex.empty()
  t.equal(index.size, 0)
  t.equal(index.revision, 0)
  t.equal(index.check('anything'), undefined)
  t.equal(index.checkDigest(sha256Digest('x')), undefined)
  index.applyChanges([{ rev: 1, op: 'upsert', sha256: sha256Hex('late'), action: 'block', leakId: 9 }])
  t.same(index.check('late'), { action: 'block', leakId: 9 })
})

t.test('options are checked', async (t) => {
  t.throws(() => LeakIndex.empty({ cacheSize: -1 }), TypeError)
  t.throws(() => LeakIndex.empty({ falsePositiveRate: 0 }), TypeError)
  t.throws(() => LeakIndex.empty({ falsePositiveRate: 1.5 }), TypeError)
})

t.test('a file loaded without blocking gives the same index; its base writes back byte for byte', async (t) => {
  const entries = randomEntries(20_000)
  const snap = encodeSnapshot(entries, 77)
  const path = `${tempDir(t)}/x.snapshot`
  writeFileSync(path, snap)
  const index = await LeakIndex.fromFile(path, { falsePositiveRate: 0.001 })
  t.equal(index.revision, 77)
  t.equal(index.size, entries.length)
  t.ok(entries.every((e) => index.checkDigest(e.sha256)?.leakId === e.leakId), 'every entry found with its leak')
  t.equal(index.check('clean'), undefined)
  index.applyChanges([{ rev: 78, op: 'upsert', sha256: sha256Hex('late'), action: 'block', leakId: 1 }])
  t.same(encodeParts(index.base), snap, 'the base is the snapshot, live changes apart')
  t.equal(index.base.revision, 77)
})
