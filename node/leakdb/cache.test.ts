import { readFileSync, writeFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { IndexCache } from './cache.js'
import { sha256Hex } from './hash.js'
import { encodeSnapshot } from './snapshot.js'

const TOKEN = 'ghp_plantedCacheToken0000000000000000000'

t.test('a saved snapshot and its changes load back as the same index', async (t) => {
  const dir = t.testdir({})
  const cache = new IndexCache(dir)
  t.equal(await cache.load(), undefined, 'nothing cached yet')
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex(TOKEN), action: 'block', leakId: 1 }], 7))
  await cache.saveChanges([
    { rev: 8, op: 'upsert', sha256: sha256Hex('second'), action: 'monitor', leakId: 2 },
    { rev: 9, op: 'delete', sha256: sha256Hex(TOKEN) },
  ])
  const loaded = await new IndexCache(dir).load()
  t.ok(loaded)
  t.equal(loaded!.revision, 9)
  t.equal(loaded!.check(TOKEN), undefined)
  t.same(loaded!.check('second'), { action: 'monitor', leakId: 2 })
  const reader = new IndexCache(dir)
  await reader.load({}, false)
  t.same(reader.loadedChanges.map((c) => c.rev), [8, 9], 'the replayed journal is kept to append to')
  for (const f of readdirSync(dir)) t.notOk(readFileSync(`${dir}/${f}`).includes(TOKEN), `${f} holds no raw token`)
  t.same(readdirSync(dir).sort(), ['index.changes.json', 'index.snapshot'], 'no temporary file left behind')
})

t.test('a journal of an older snapshot is ignored', async (t) => {
  const dir = t.testdir({})
  const cache = new IndexCache(dir)
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7))
  writeFileSync(cache.changesPath, JSON.stringify({ base: 3, changes: [{ rev: 8, op: 'delete', sha256: sha256Hex('a') }] }))
  const loaded = await cache.load()
  t.same(loaded!.check('a'), { action: 'block', leakId: 1 })
})

t.test('a corrupt cache is refused with a clear error', async (t) => {
  const dir = t.testdir({})
  const cache = new IndexCache(dir)
  const snap = encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7)
  writeFileSync(cache.snapshotPath, snap.subarray(0, snap.length - 5))
  await t.rejects(cache.load(), { code: 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED' })
  await t.rejects(cache.saveSnapshot(Buffer.from('garbage'.repeat(20))), { code: 'LEAKGATE_ERR_SNAPSHOT_MAGIC' })
  t.same(readFileSync(cache.snapshotPath), snap.subarray(0, snap.length - 5), 'a refused snapshot is not written')
  await cache.saveSnapshot(snap)
  writeFileSync(cache.changesPath, '{"base": 7, "changes": [')
  await t.rejects(cache.load(), { code: 'LEAKGATE_ERR_CHANGE_INVALID' })
})
