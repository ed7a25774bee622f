import t from 'tap'
import { generateKey } from '../store/keys.js'
import { allPages, startPlane, storeSql, waitFor, type TestPlane } from './harness.js'

async function nodeKey(plane: TestPlane): Promise<string> {
  const key = generateKey()
  await plane.store.keys.add(key, 'node')
  return key
}

async function ids(plane: TestPlane): Promise<string[]> {
  return (await plane.call('GET', '/v1/nodes?limit=1000', plane.keys.analyst)).json().items.map((n: { id: string }) => n.id)
}

t.test('the number of nodes is bounded by maxNodes: past it, 403 and no row', async (t) => {
  const plane = await startPlane(t, { maxNodes: 3 })
  for (const id of ['edge-1', 'edge-2', 'edge-3']) {
    t.equal((await plane.call('POST', '/v1/nodes/heartbeat', (await nodeKey(plane)), { nodeId: id })).statusCode, 204)
  }
  const fourth = await plane.call('POST', '/v1/nodes/heartbeat', (await nodeKey(plane)), { nodeId: 'edge-4' })
  t.equal(fourth.statusCode, 403)
  t.equal(fourth.json().code, 'LEAKGATE_ERR_NODE_LIMIT')
  t.match(fourth.json().detail, /3 nodes.*maxNodes/)
  const bySightings = await plane.call('POST', '/v1/sightings', (await nodeKey(plane)), { nodeId: 'edge-5', sightings: [] })
  t.equal(bySightings.statusCode, 403, 'sightings cannot register a node past the limit either')
  t.same(await ids(plane), ['edge-1', 'edge-2', 'edge-3'])
  // An admin key is bounded too: the limit is the fleet's, not the key's.
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.admin, { nodeId: 'edge-6' })).statusCode, 403)
})

t.test('a node silent for nodePruneSeconds gives up its place to a new node', async (t) => {
  const plane = await startPlane(t, { maxNodes: 2, nodePruneSeconds: 3600 })
  await plane.call('POST', '/v1/nodes/heartbeat', (await nodeKey(plane)), { nodeId: 'edge-old' })
  await plane.call('POST', '/v1/nodes/heartbeat', (await nodeKey(plane)), { nodeId: 'edge-live' })
  await storeSql(t, plane.store).run("UPDATE nodes SET last_contact_at = '2000-01-01T00:00:00.000Z' WHERE id = 'edge-old'")
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', (await nodeKey(plane)), { nodeId: 'edge-new' })).statusCode, 204)
  t.same(await ids(plane), ['edge-live', 'edge-new'])
})

t.test('stale nodes are pruned on a timer', async (t) => {
  const plane = await startPlane(t, { nodePruneSeconds: 1 })
  await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.node, { nodeId: 'edge-gone' })
  t.same(await ids(plane), ['edge-gone'])
  await waitFor('the silent node to be pruned', async () => (await ids(plane)).length === 0, 5000)
  t.pass('pruned')
})

t.test('an admin removes a node: 204, logged; others may not', async (t) => {
  const plane = await startPlane(t)
  const key = await nodeKey(plane)
  await plane.call('POST', '/v1/nodes/heartbeat', key, { nodeId: 'edge-1' })
  t.equal((await plane.call('DELETE', '/v1/nodes/edge-1', plane.keys.analyst)).statusCode, 403)
  t.equal((await plane.call('DELETE', '/v1/nodes/edge-1', key)).statusCode, 403)
  t.equal((await plane.call('DELETE', '/v1/nodes/edge-1')).statusCode, 401)
  const removed = await plane.call('DELETE', '/v1/nodes/edge-1', plane.keys.admin)
  t.equal(removed.statusCode, 204)
  t.same(await ids(plane), [])
  t.ok(plane.logs.some((l) => l.includes('node removed by an admin') && l.includes('edge-1')), 'logged with who removed it')
  const again = await plane.call('DELETE', '/v1/nodes/edge-1', plane.keys.admin)
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'LEAKGATE_ERR_NOT_FOUND')
  t.equal((await plane.call('DELETE', '/v1/nodes/..%2Fx', plane.keys.admin)).statusCode, 400)
})

t.test('GET /v1/nodes pages with limit and cursor', async (t) => {
  const plane = await startPlane(t)
  for (const id of ['edge-3', 'edge-1', 'edge-5', 'edge-2', 'edge-4']) {
    await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.admin, { nodeId: id })
  }
  const pages = await allPages(plane, '/v1/nodes?limit=2', plane.keys.analyst)
  for (const page of pages) t.ok(page.items.length <= 2)
  const seen = pages.flatMap((page) => (page.items as Array<{ id: string }>).map((n) => n.id))
  t.equal(pages.length, 3)
  t.same(seen, ['edge-1', 'edge-2', 'edge-3', 'edge-4', 'edge-5'], 'every node once, by id')
  const bad = await plane.call('GET', '/v1/nodes?cursor=bm90LWEtY3Vyc29y', plane.keys.analyst)
  t.equal(bad.statusCode, 400)
  t.equal((await plane.call('GET', '/v1/nodes?limit=0', plane.keys.analyst)).statusCode, 400)
  t.equal((await plane.call('GET', '/v1/nodes?limit=1001', plane.keys.analyst)).statusCode, 400)
})
