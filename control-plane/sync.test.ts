import { randomBytes } from 'node:crypto'
import t from 'tap'
import { HASH_KEY_ID_HEADER, hashKeyId } from '../protocol/token-hash.js'
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
  t.equal(await plane.store.index.revision(), 200)
  t.equal(await plane.store.index.prunedThrough(), 100, 'the log was pruned to its retention')

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

t.test('immutable snapshot URL: redirect on request, cacheable headers, strong ETag, 304, 404 for what is not kept', async (t) => {
  const plane = await startPlane(t)
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'immutable-token-1-abcdefgh' }] })
  const direct = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)
  t.equal(direct.statusCode, 200, 'without ?redirect, the bytes as before (older nodes)')
  t.equal(direct.headers['cache-control'], 'no-store')

  const redirect = await plane.call('GET', '/v1/sync/snapshot?redirect=true', plane.keys.node)
  t.equal(redirect.statusCode, 307)
  t.equal(redirect.headers['cache-control'], 'no-store', 'the redirect itself is never cached: it names the current revision')
  t.equal(redirect.headers['leakgate-revision'], '1')
  const location = String(redirect.headers.location)
  t.match(location, /^snapshot\/1\?digest=[0-9a-f]{32}$/, 'relative to /v1/sync/snapshot')
  const digest = location.split('digest=')[1]
  t.equal(digest, direct.rawPayload.subarray(-32, -16).toString('hex'), 'the digest is the start of the snapshot\'s own checksum')

  const url = `/v1/sync/snapshot/1?digest=${digest}`
  const first = await plane.call('GET', url, plane.keys.node)
  t.equal(first.statusCode, 200)
  t.equal(first.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(first.headers.etag, `"r1-${digest}"`)
  t.equal(first.headers['leakgate-revision'], '1')
  t.equal(first.headers['content-type'], 'application/octet-stream')
  t.equal(first.headers['leakgate-hash-key-id'], undefined, 'no hash key, no key id')
  t.same(first.rawPayload, direct.rawPayload, 'the same bytes as /v1/sync/snapshot')

  const again = await plane.call('GET', url, plane.keys.node, undefined, { 'if-none-match': `"r0-${digest}", "r1-${digest}"` })
  t.equal(again.statusCode, 304)
  t.equal(again.rawPayload.length, 0)
  t.equal(again.headers.etag, `"r1-${digest}"`)
  t.equal(again.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal((await plane.call('GET', url, plane.keys.node, undefined, { 'if-none-match': '"r1"' })).statusCode, 200, 'another ETag: the bytes')

  const head = await plane.call('HEAD', url, plane.keys.node)
  t.equal(head.statusCode, 200, 'HEAD answers as GET (what a cache asks to authorize a node)')
  t.equal(head.rawPayload.length, 0)

  const bare = await plane.call('GET', '/v1/sync/snapshot/1', plane.keys.node)
  t.equal(bare.statusCode, 200)
  t.equal(bare.headers['cache-control'], 'public, no-cache', 'without the digest the URL may name other bytes after a store reset: revalidated')

  for (const [what, path] of [['another digest', `/v1/sync/snapshot/1?digest=${'0'.repeat(32)}`], ['a revision never reached', '/v1/sync/snapshot/9']] as const) {
    const res = await plane.call('GET', path, plane.keys.node)
    t.equal(res.statusCode, 404, what)
    t.equal(res.json().code, 'LEAKGATE_ERR_NOT_FOUND', what)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.equal(res.headers['cache-control'], 'no-store', `${what}: a refusal is not cached`)
  }
  t.equal((await plane.call('GET', url)).statusCode, 401, 'the node key is needed, as on /v1/sync/snapshot')
  t.equal((await plane.call('GET', url, plane.keys.analyst)).statusCode, 403)
  t.equal((await plane.call('GET', url, plane.keys.admin)).statusCode, 200, 'the admin may, as on /v1/sync/snapshot')
  t.equal((await plane.call('GET', '/v1/sync/snapshot/x', plane.keys.node)).statusCode, 400)

  // A node redirected to revision 1 just before revision 2 was built still gets it; two builds later, 404.
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'immutable-token-2-abcdefgh' }] })
  t.match((await plane.call('GET', '/v1/sync/snapshot?redirect=true', plane.keys.node)).headers.location, /^snapshot\/2\?/)
  t.equal((await plane.call('GET', url, plane.keys.node)).statusCode, 200, 'the snapshot before the last one is kept')
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'immutable-token-3-abcdefgh' }] })
  await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)
  t.equal((await plane.call('GET', url, plane.keys.node)).statusCode, 404, 'older ones are not')

  // However often a revision is fetched, it is built once.
  const builds = async (): Promise<number> => Number(/^leakgate_cp_snapshot_builds_total (\d+)$/m.exec((await plane.call('GET', '/metrics')).body)?.[1])
  const before = await builds()
  for (let i = 0; i < 5; i++) await plane.call('GET', '/v1/sync/snapshot/3', plane.keys.node)
  await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)
  t.equal(await builds(), before, 'no build for a kept revision')
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'immutable-token-4-abcdefgh' }] })
  for (let i = 0; i < 5; i++) await plane.call('GET', '/v1/sync/snapshot/4', plane.keys.node)
  t.equal(await builds(), before + 1, 'the current revision asked at its URL: built once')
})

t.test('immutable snapshot URL with a hash key: the key id travels with the bytes; another key is refused', async (t) => {
  const key = randomBytes(32)
  const plane = await startPlane(t, { hashKey: key.toString('hex') })
  const id = { [HASH_KEY_ID_HEADER]: hashKeyId(key) }
  const redirect = await plane.call('GET', '/v1/sync/snapshot?redirect=true', plane.keys.node, undefined, id)
  const path = `/v1/sync/snapshot/${String(redirect.headers.location).slice('snapshot/'.length)}`
  const ok = await plane.call('GET', path, plane.keys.node, undefined, id)
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers[HASH_KEY_ID_HEADER], hashKeyId(key), 'a cache keeps it with the body; the node checks it')
  const other = await plane.call('GET', path, plane.keys.node, undefined, { [HASH_KEY_ID_HEADER]: hashKeyId(randomBytes(32)) })
  t.equal(other.statusCode, 409)
  t.equal(other.json().code, 'LEAKGATE_ERR_HASH_KEY_MISMATCH')
})
