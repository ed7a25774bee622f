import t from 'tap'
import { bucketSize, paddedRange, RANGE_BUCKET } from './range.js'

const secret = Buffer.alloc(16, 7)
const hex = (n: number): string => n.toString(16).padStart(59, '0')

t.test('bucketSize: one bucket up to its size, then the next multiple', async (t) => {
  t.same([0, 1, RANGE_BUCKET, RANGE_BUCKET + 1, 3 * RANGE_BUCKET].map(bucketSize), [RANGE_BUCKET, RANGE_BUCKET, RANGE_BUCKET, 2 * RANGE_BUCKET, 3 * RANGE_BUCKET])
})

t.test('paddedRange: the real hashes among decoys of the same prefix and shape, sorted, stable', async (t) => {
  const real = [`abcde${hex(5)}`, `abcde${hex(9)}`]
  const out = paddedRange('abcde', real, secret)
  t.equal(out.length, RANGE_BUCKET)
  t.ok(real.every((h) => out.includes(h)))
  t.ok(out.every((h) => /^abcde[0-9a-f]{59}$/.test(h)), 'same prefix, 64 lowercase hex')
  t.same(out, [...out].sort(), 'sorted')
  t.equal(new Set(out).size, out.length, 'no duplicate')
  t.same(paddedRange('abcde', real, secret), out, 'the same decoys every time')
  t.notSame(paddedRange('abcde', real, Buffer.alloc(16, 8)), out, 'another secret, other decoys')
  t.notSame(paddedRange('abcde', real, secret, 'keyid'), out, 'keyed hashes get decoys of their own')
  const decoys = out.filter((h) => !real.includes(h))
  const more = paddedRange('abcde', [...real, `abcde${hex(1)}`], secret)
  t.equal(more.length, RANGE_BUCKET)
  t.equal(decoys.filter((d) => !more.includes(d)).length, 1, 'a new leaked hash replaces one decoy, the rest stay')
})
