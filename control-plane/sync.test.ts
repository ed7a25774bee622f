import t from 'tap'
import { LeakIndex } from '../node/leakdb/index.js'
import { startPlane } from './test/harness.js'

t.test('snapshot: ETag per revision, If-None-Match gives 304, a new revision a new body', async (t) => {
  const plane = await startPlane(t)
  const empty = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)
  t.equal(empty.statusCode, 200)
  t.equal(empty.headers.etag, '"r0"')
  t.equal(empty.headers['leakgate-revision'], '0')
  t.equal(empty.headers['content-type'], 'application/octet-stream')
  t.equal(LeakIndex.fromSnapshot(empty.rawPayload).size, 0)
  const same = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node, undefined, { 'if-none-match': '"r0"' })
  t.equal(same.statusCode, 304)
  t.equal(same.rawPayload.length, 0)

  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'leaked-token-abcdefghijk' }] })
  const next = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node, undefined, { 'if-none-match': '"r0"' })
  t.equal(next.statusCode, 200)
  t.equal(next.headers.etag, '"r1"')
  const index = LeakIndex.fromSnapshot(next.rawPayload)
  t.equal(index.revision, 1)
  t.ok(index.check('leaked-token-abcdefghijk'))
})

t.test('long-poll: held while nothing changes, answered as soon as a decision lands', async (t) => {
  const plane = await startPlane(t)
  const created = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'leaked-token-abcdefghijk' }] })).json()
  let answered = false
  const poll = plane.call('GET', '/v1/sync/changes?since=1&wait=20', plane.keys.node).then((res) => {
    answered = true
    return res
  })
  // The poll is parked once the sync service counts it.
  const deadline = Date.now() + 5000
  while (plane.app.leakgate.sync.waiting === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.equal(plane.app.leakgate.sync.waiting, 1, 'the changes request is held open')
  t.equal(answered, false)
  const metrics = await plane.call('GET', '/metrics')
  t.match(metrics.body, /leakgate_cp_sync_clients 1/)

  const patched = await plane.call('PATCH', `/v1/leaks/${created.id}`, plane.keys.admin, { action: 'block' })
  t.equal(patched.statusCode, 200)
  const res = await poll
  t.equal(res.statusCode, 200)
  t.same(res.json(), { revision: 2, changes: [{ rev: 2, op: 'upsert', sha256: created.tokens[0].sha256, action: 'block', leakId: created.id }] })
  t.equal(plane.app.leakgate.sync.waiting, 0)
})

t.test('a fleet of held polls woken by one decision all get it, and each poll after it gets the next one', async (t) => {
  const plane = await startPlane(t)
  const created = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'leaked-token-abcdefghijk' }] })).json()
  const sha256 = created.tokens[0].sha256 as string
  const FLEET = 40
  const parked = async (count: number): Promise<void> => {
    const deadline = Date.now() + 5000
    while (plane.app.leakgate.sync.waiting < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    t.equal(plane.app.leakgate.sync.waiting, count, `${count} polls held`)
  }
  const polls = (since: number): Promise<unknown[]> => Promise.all(Array.from({ length: FLEET }, async () => {
    const res = await plane.call('GET', `/v1/sync/changes?since=${since}&wait=20`, plane.keys.node)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    return res.json()
  }))
  for (const [rev, action] of [[2, 'block'], [3, 'monitor'], [4, 'block']] as const) {
    const answers = polls(rev - 1)
    await parked(FLEET)
    await plane.call('PATCH', `/v1/leaks/${created.id}`, plane.keys.admin, { action })
    t.same(await answers, Array.from({ length: FLEET }, () => ({ revision: rev, changes: [{ rev, op: 'upsert', sha256, action, leakId: created.id }] })), `every poll got revision ${rev}`)
  }
  // Asked again from an older revision, the answer holds every change since.
  const behind = (await plane.call('GET', '/v1/sync/changes?since=1', plane.keys.node)).json()
  t.same(behind.changes.map((c: { rev: number }) => c.rev), [2, 3, 4])
})

t.test('long-poll: an empty answer after the wait, and no wait at all without ?wait', async (t) => {
  const plane = await startPlane(t)
  const now = await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)
  t.same(now.json(), { revision: 0, changes: [] })
  const waited = await plane.call('GET', '/v1/sync/changes?since=0&wait=0.2', plane.keys.node)
  t.same(waited.json(), { revision: 0, changes: [] })
})

t.test('410 when since is older than what is kept, or ahead of the store', async (t) => {
  const plane = await startPlane(t, { changesRetention: 100 })
  const tokens = Array.from({ length: 100 }, (_, i) => ({ value: `retention-token-${i}-abcdefgh` }))
  const created = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens })).json()
  await plane.call('PATCH', `/v1/leaks/${created.id}`, plane.keys.admin, { action: 'block' })
  t.equal(plane.store.index.revision(), 200)
  t.equal(plane.store.index.prunedThrough(), 100, 'the log was pruned to its retention')

  const old = await plane.call('GET', '/v1/sync/changes?since=50', plane.keys.node)
  t.equal(old.statusCode, 410)
  t.equal(old.json().code, 'LEAKGATE_ERR_SYNC_GONE')
  t.match(old.headers['content-type'], /^application\/problem\+json/)
  const kept = await plane.call('GET', '/v1/sync/changes?since=100', plane.keys.node)
  t.equal(kept.statusCode, 200)
  t.equal(kept.json().changes.length, 100)
  const ahead = await plane.call('GET', '/v1/sync/changes?since=201&wait=5', plane.keys.node)
  t.equal(ahead.statusCode, 410, 'a node ahead of the store (reset) is told at once')
  t.equal(ahead.json().code, 'LEAKGATE_ERR_SYNC_GONE')
})

t.test('a capped answer covers up to its last change; the node asks again from there', async (t) => {
  const plane = await startPlane(t, { limits: { changesPerResponse: 3 } })
  const tokens = Array.from({ length: 5 }, (_, i) => ({ value: `capped-token-${i}-abcdefgh` }))
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens })
  const first = (await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)).json()
  t.equal(first.changes.length, 3)
  t.equal(first.revision, 3)
  const second = (await plane.call('GET', `/v1/sync/changes?since=${first.revision}`, plane.keys.node)).json()
  t.same(second.changes.map((c: { rev: number }) => c.rev), [4, 5])
  t.equal(second.revision, 5)
})

t.test('closing the app releases held long-polls at once', async (t) => {
  const plane = await startPlane(t)
  const poll = plane.call('GET', '/v1/sync/changes?since=0&wait=30', plane.keys.node)
  const deadline = Date.now() + 5000
  while (plane.app.leakgate.sync.waiting === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.equal(plane.app.leakgate.sync.waiting, 1)
  await plane.app.close()
  const res = await poll
  t.equal(res.statusCode, 200)
  t.same(res.json(), { revision: 0, changes: [] })
})

t.test('a large index is built in a worker thread; meanwhile the last snapshot is served', async (t) => {
  const plane = await startPlane(t)
  const { SyncService } = await import('./sync.js')
  const sync = new SyncService(plane.store, { maxWaitSeconds: 1, changesPerResponse: 100, workerThreshold: 1 })
  t.teardown(() => sync.close())
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'worker-token-1-abcdefgh' }] })
  const first = await sync.snapshot()
  t.equal(first.revision, 1, 'the first build is awaited')
  t.ok(LeakIndex.fromSnapshot(first.body).check('worker-token-1-abcdefgh'))

  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'worker-token-2-abcdefgh' }] })
  const served = await sync.snapshot()
  t.equal(served.revision, 1, 'the last snapshot while the new one builds')
  let fresh = served
  const deadline = Date.now() + 10_000
  while (fresh.revision !== 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
    fresh = await sync.snapshot()
  }
  t.equal(fresh.revision, 2, 'then the fresh one')
  t.equal(fresh.etag, '"r2"')
  t.ok(LeakIndex.fromSnapshot(fresh.body).check('worker-token-2-abcdefgh'))
})
