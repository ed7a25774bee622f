import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { IndexCache } from './cache.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { tempDir } from '../../test/support.js'

const TOKEN = 'ghp_plantedCacheToken0000000000000000000'

t.test('a saved snapshot and its changes load back as the same index', async (t) => {
  const dir = tempDir(t)
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
  await reader.load()
  t.same(reader.loadedChanges.map((c) => c.rev), [8, 9], 'the replayed journal is kept to append to')
  for (const f of readdirSync(dir)) t.notOk(readFileSync(`${dir}/${f}`).includes(TOKEN), `${f} holds no raw token`)
  t.same(readdirSync(dir).sort(), ['index.changes.json', 'index.snapshot'], 'no temporary file left behind')
})

t.test('a journal of an older snapshot is ignored', async (t) => {
  const dir = tempDir(t)
  const cache = new IndexCache(dir)
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7))
  writeFileSync(cache.changesPath, JSON.stringify({ base: 3, changes: [{ rev: 8, op: 'delete', sha256: sha256Hex('a') }] }))
  const loaded = await cache.load()
  t.same(loaded!.check('a'), { action: 'block', leakId: 1 })
})

t.test('a corrupt snapshot is refused with a clear error', async (t) => {
  const dir = tempDir(t)
  const cache = new IndexCache(dir)
  const snap = encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7)
  writeFileSync(cache.snapshotPath, snap.subarray(0, snap.length - 5))
  await t.rejects(cache.load(), { code: 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED' })
  await t.rejects(cache.saveSnapshot(Buffer.from('garbage'.repeat(20))), { code: 'LEAKGATE_ERR_SNAPSHOT_MAGIC' })
  t.same(readFileSync(cache.snapshotPath), snap.subarray(0, snap.length - 5), 'a refused snapshot is not written')
})

t.test('a corrupt journal is dropped, not the snapshot: the index is the snapshot\'s, and the error is told', async (t) => {
  const dir = tempDir(t)
  const cache = new IndexCache(dir)
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7))
  const journals = {
    'not JSON': '{"base": 7, "changes": [',
    'no list of changes': '{"base": 7, "changes": 3}',
    'a refused change': JSON.stringify({ base: 7, changes: [{ rev: 8, op: 'delete', sha256: sha256Hex('b') }, { rev: 9, op: 'upsert', sha256: 'nothex', action: 'block', leakId: 2 }] }),
  }
  for (const [what, text] of Object.entries(journals)) {
    writeFileSync(cache.changesPath, text)
    const loaded = await cache.load()
    t.ok(loaded, `${what}: the snapshot still loads`)
    t.equal(loaded!.revision, 7, `${what}: at the snapshot's revision`)
    t.same(loaded!.check('a'), { action: 'block', leakId: 1 }, `${what}: the snapshot's leak is enforced`)
    t.match(cache.journalError, { code: 'LEAKGATE_ERR_CHANGE_INVALID' }, `${what}: the journal error is told`)
    t.same(cache.loadedChanges, [], `${what}: nothing of the journal kept`)
  }
  writeFileSync(cache.changesPath, JSON.stringify({ base: 7, changes: [] }))
  await cache.load()
  t.equal(cache.journalError, undefined, 'a good journal clears the error')
})

t.test('a failed snapshot write leaves no journal tagged with the old snapshot', async (t) => {
  const dir = tempDir(t)
  const cache = new IndexCache(dir)
  const old = encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }], 7)
  await cache.saveSnapshot(old)
  // The write of the new snapshot fails (here: its path is a folder, which root cannot write over either).
  rmSync(cache.snapshotPath)
  mkdirSync(`${cache.snapshotPath}/x`, { recursive: true })
  const newer = encodeSnapshot([{ sha256: sha256Hex('a'), action: 'block', leakId: 1 }, { sha256: sha256Hex('b'), action: 'block', leakId: 2 }], 10)
  await t.rejects(cache.saveSnapshot(newer))
  await t.rejects(cache.saveChanges([{ rev: 11, op: 'upsert', sha256: sha256Hex('c'), action: 'block', leakId: 3 }]), { code: 'LEAKGATE_ERR_INDEX_INPUT' }, 'changes since the unsaved snapshot are refused')
  // A failed write (disk full, say) leaves the old snapshot in place: a restart must get revision 7 as it was,
  // not revision 11 without the leak of revision 10.
  rmSync(cache.snapshotPath, { recursive: true })
  writeFileSync(cache.snapshotPath, old)
  const loaded = await new IndexCache(dir).load()
  t.equal(loaded!.revision, 7)
  t.equal(loaded!.check('c'), undefined)
  await cache.saveSnapshot(newer)
  await cache.saveChanges([{ rev: 11, op: 'upsert', sha256: sha256Hex('c'), action: 'block', leakId: 3 }])
  const again = await new IndexCache(dir).load()
  t.equal(again!.revision, 11, 'once a snapshot is saved, its changes are journaled again')
  t.same(again!.check('b'), { action: 'block', leakId: 2 })
})
