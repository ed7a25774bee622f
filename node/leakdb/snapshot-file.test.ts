/**
 * A snapshot file read in place answers every lookup exactly as the index loaded from it (present,
 * absent, monitored, digests that differ only in bits past those kept or in the last bit kept), and is
 * refused whole, as a load refuses it, when its bytes or its entries are wrong.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { encodeParts, SnapshotBuilder, type SnapshotParts } from '../../protocol/snapshot.js'
import { keyedTokenHex, sha256Digest } from '../../protocol/token-hash.js'
import { tempDir } from '../../test/support.js'
import { LeakIndex, type IndexOptions } from './index.js'
import { SnapshotFileView } from './snapshot-file.js'

const rng = new Rng(0x5f11e)

function partsOf(digests: readonly Uint8Array[], revision: number): SnapshotParts {
  const builder = new SnapshotBuilder()
  digests.forEach((d, i) => builder.add({ sha256: d, action: rng.int(0, 3) === 0 ? 'monitor' : 'block', leakId: i + 1 }))
  return builder.build(revision)
}

// A digest with bit `bit` (0 = the first digest bit) flipped.
function flipped(d: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(d)
  copy[bit >> 3]! ^= 0x80 >> (bit & 7)
  return copy
}

for (const [n, options] of [[0, {}], [1, {}], [300, {}], [40_000, {}], [5_000, { hashKey: rng.bytes(32) }]] as Array<[number, IndexOptions]>) {
  t.test(`the view answers as the index: ${n} entries${options.hashKey === undefined ? '' : ', with a hash key'}`, async (t) => {
    const credentials = Array.from({ length: n }, () => `lgtest_${rng.chars(32, ALPHA.base62)}`)
    const digests = credentials.map((c) => (options.hashKey === undefined ? sha256Digest(c) : keyedDigest(options.hashKey, c)))
    const parts = partsOf(digests, 7)
    const file = join(tempDir(t), 'x.snapshot')
    writeFileSync(file, encodeParts(parts))
    const index = await LeakIndex.fromFile(file, { ...options, cacheSize: 0 })
    const view = await SnapshotFileView.open(file, options)
    t.teardown(() => view.close())
    t.equal(view.revision, index.revision)
    t.equal(view.size, index.size)

    let compared = 0
    let differ = 0
    const same = (a: unknown, b: unknown): void => {
      compared++
      if (JSON.stringify(a) !== JSON.stringify(b)) differ++
    }
    for (const c of credentials) same(view.check(c), index.check(c))
    for (let i = 0; i < 2000; i++) {
      const c = `lgtest_${rng.chars(32, ALPHA.base62)}`
      same(view.check(c), index.check(c))
    }
    const B = parts.bucketBits
    for (const d of digests.slice(0, 3000)) {
      same(view.checkDigest(d), index.checkDigest(d))
      // The last bit kept tells two digests apart; bits past it do not (both read the same B + 64 bits).
      for (const bit of [0, B - 1, B, B + 31, B + 32, B + 63, B + 64, 127, 255]) same(view.checkDigest(flipped(d, bit)), index.checkDigest(flipped(d, bit)))
      const hex = Buffer.from(d).toString('hex')
      same(view.has(hex), index.has(hex))
      same(view.has(flipped(d, B + 63).toString('hex')), index.has(flipped(d, B + 63).toString('hex')))
    }
    t.ok(compared > n, `${compared} lookups compared`)
    t.equal(differ, 0, 'no lookup answered differently')
    if (n > 0) {
      const d = digests[0]!
      t.not(view.checkDigest(d), undefined, 'a present digest is found')
      t.equal(view.checkDigest(flipped(d, B + 63)), undefined, 'the last bit kept matters')
      t.same(view.checkDigest(flipped(d, B + 64)), view.checkDigest(d), 'bits past those kept do not')
    }
    const loaded = await view.load()
    for (const c of credentials.slice(0, 500)) same(loaded.check(c), index.check(c))
    t.equal(differ, 0, 'the index the view loads answers as one loaded from the file')
  })
}

function keyedDigest(key: Uint8Array, credential: string): Buffer {
  return Buffer.from(keyedTokenHex(key, credential), 'hex')
}

t.test('a bad file is refused as a load refuses it, and nothing stays open', async (t) => {
  const dir = tempDir(t)
  const digests = Array.from({ length: 2000 }, () => rng.bytes(32))
  const parts = partsOf(digests, 3)
  const good = encodeParts(parts)
  const cases: Array<[string, Buffer]> = []
  const flippedByte = Buffer.from(good)
  flippedByte[1000]! ^= 1
  cases.push(['a changed byte', flippedByte], ['truncated', good.subarray(0, good.length - 100)], ['garbage', rng.bytes(5000)])
  // Entries out of order under a right checksum: only the entry check sees it.
  const hi = parts.hi.slice()
  const b = parts.offsets.findIndex((o, i) => parts.offsets[i + 1]! - o >= 2)
  const at = parts.offsets[b]!
  ;[hi[at], hi[at + 1]] = [hi[at + 1]!, hi[at]!]
  cases.push(['entries out of order', encodeParts({ ...parts, hi })])
  const wrongCount = { ...parts, blockCount: parts.blockCount + 1 }
  cases.push(['a block count the values deny', encodeParts(wrongCount)])
  for (const [what, bytes] of cases) {
    const file = join(dir, `${what.replace(/ /g, '-')}.snapshot`)
    writeFileSync(file, bytes)
    const loadError = await LeakIndex.fromFile(file).then(() => undefined, (err: { code?: string }) => err.code)
    t.ok(loadError !== undefined, `${what}: a load refuses it (${loadError})`)
    await t.rejects(SnapshotFileView.open(file), { code: loadError }, `${what}: the view refuses it alike`)
  }
})

t.test('a file rewritten in place after the check is loaded as what it now holds, checked again', async (t) => {
  const file = join(tempDir(t), 'x.snapshot')
  const before = Array.from({ length: 500 }, () => rng.bytes(32))
  const after = Array.from({ length: 700 }, () => rng.bytes(32))
  writeFileSync(file, encodeParts(partsOf(before, 1)))
  const view = await SnapshotFileView.open(file)
  t.teardown(() => view.close())
  writeFileSync(file, encodeParts(partsOf(after, 2))) // same inode: the open descriptor sees the new bytes
  const index = await view.load()
  t.equal(index.revision, 2)
  t.equal(index.size, 700)
  t.ok(after.every((d) => index.checkDigest(d) !== undefined), 'every entry of the new content is found')
  t.ok(before.every((d) => index.checkDigest(d) === undefined), 'none of the old')
  const corrupt = encodeParts(partsOf(after, 3))
  corrupt[100]! ^= 1
  writeFileSync(file, corrupt)
  await t.rejects(view.load(), { code: 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM' }, 'a corrupt rewrite is refused')
})
