import t from 'tap'
import { belongsTo, checkShard, cursorIdOf, shardCursorId, shardOfKey } from './shard.js'

t.test('each key belongs to exactly one shard of n, and the shards share the keys', async (t) => {
  const keys = Array.from({ length: 4000 }, (_, i) => `org${i}/repo${i}`)
  for (const n of [1, 2, 3, 4, 7]) {
    const sizes = new Array<number>(n).fill(0)
    const notInOne: string[] = []
    for (const key of keys) {
      const owners = Array.from({ length: n }, (_, i) => i + 1).filter((index) => belongsTo({ index, count: n }, key))
      if (owners.length !== 1 || owners[0] !== shardOfKey(key, n)) notInOne.push(key)
      else sizes[owners[0] - 1]!++
    }
    t.same(notInOne, [], `each key in exactly one shard of ${n}`)
    // 4000 keys hashed: each shard within 15 % of its share.
    for (const size of sizes) t.ok(Math.abs(size - keys.length / n) < 0.15 * keys.length / n, `shards of ${n} even (${sizes.join(', ')})`)
  }
  t.ok(keys.every((key) => belongsTo(undefined, key)), 'unsharded: every key')
})

t.test('the shard is the first 4 bytes of the key\'s SHA-256, mod n, plus one', async (t) => {
  // Computed here as the definition says, apart from the module.
  const { createHash } = await import('node:crypto')
  const first = createHash('sha256').update('acme/api').digest().readUInt32BE(0)
  t.equal(shardOfKey('acme/api', 5), (first % 5) + 1)
  t.equal(shardOfKey('acme/api', 1), 1)
})

t.test('cursor rows: <id>#k/n for a shard, the source\'s own id unsharded or of one shard', async (t) => {
  t.equal(shardCursorId('gharchive', { index: 2, count: 4 }), 'gharchive#2/4')
  t.equal(shardCursorId('gharchive', undefined), 'gharchive')
  t.equal(shardCursorId('gharchive', { index: 1, count: 1 }), 'gharchive')
  t.equal(cursorIdOf({ id: 'npm', shard: { index: 3, count: 8 } }), 'npm#3/8')
})

t.test('a shard outside 1..count, or a count outside 1..1024, is refused naming it', async (t) => {
  t.throws(() => checkShard({ index: 0, count: 4 }), { name: 'TypeError', message: /shard index must be an integer from 1 to the count \(4\), got 0/ })
  t.throws(() => checkShard({ index: 5, count: 4 }), TypeError)
  t.throws(() => checkShard({ index: 1, count: 0 }), { message: /shard count must be an integer from 1 to 1024, got 0/ })
  t.throws(() => checkShard({ index: 1, count: 1.5 }), TypeError)
  t.same(checkShard({ index: 2, count: 4 }), { index: 2, count: 4 })
  t.equal(checkShard(undefined), undefined)
})
