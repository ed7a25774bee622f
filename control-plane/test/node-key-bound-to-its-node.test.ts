import t from 'tap'
import { generateKey } from '../store/keys.js'
import { newNodeKey as nodeKey, startPlane, type TestPlane } from './harness.js'

async function fleet(plane: TestPlane): Promise<{ id: string; version: string | null }[]> {
  return (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json().items
}

t.test('a node key reports only as the node it first reported as', async (t) => {
  const plane = await startPlane(t)
  const a = await nodeKey(plane)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', a, { nodeId: 'edge-a', version: '1.0.0' })).statusCode, 204)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', a, { nodeId: 'edge-a', version: '1.0.1' })).statusCode, 204, 'as itself, again and again')

  const other = await plane.call('POST', '/v1/nodes/heartbeat', a, { nodeId: 'edge-z', version: '1.0.0' })
  t.equal(other.statusCode, 403, 'not as a new node')
  t.equal(other.json().code, 'LEAKGATE_ERR_NODE_IDENTITY')
  t.match(other.headers['content-type'], /^application\/problem\+json/)
  const sightingsElsewhere = await plane.call('POST', '/v1/sightings', a, { nodeId: 'edge-z', sightings: [] })
  t.equal(sightingsElsewhere.statusCode, 403)
  t.equal(sightingsElsewhere.json().code, 'LEAKGATE_ERR_NODE_IDENTITY')
  t.same((await fleet(plane)).map((n) => n.id), ['edge-a'], 'no row for the refused node')
})

t.test("a second key cannot overwrite another node's heartbeat or post sightings in its name", async (t) => {
  const plane = await startPlane(t)
  const a = await nodeKey(plane)
  const b = await nodeKey(plane)
  const leak = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'identity-test-token-abcdefgh' }] })).json()
  await plane.call('POST', '/v1/nodes/heartbeat', a, { nodeId: 'edge-a', version: 'real', revision: 1 })

  const forged = await plane.call('POST', '/v1/nodes/heartbeat', b, { nodeId: 'edge-a', version: 'forged', revision: 0 })
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'LEAKGATE_ERR_NODE_IDENTITY')
  t.same((await fleet(plane)).map((n) => [n.id, n.version]), [['edge-a', 'real']], 'the real heartbeat stands')

  const inItsName = await plane.call('POST', '/v1/sightings', b, { nodeId: 'edge-a', sightings: [{ leakId: leak.id, at: '2026-11-28T10:00:00Z' }] })
  t.equal(inItsName.statusCode, 403)
  t.equal(inItsName.json().code, 'LEAKGATE_ERR_NODE_IDENTITY')
  const detail = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(detail.hits, 0, 'no sighting recorded in its name')
  t.same(detail.sightings, [])

  // b is free to be a node of its own.
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', b, { nodeId: 'edge-b' })).statusCode, 204)
})

t.test('a rotated key takes over its node once the old key is revoked', async (t) => {
  const plane = await startPlane(t)
  const first = generateKey()
  await plane.store.keys.seed(first, 'node', 'LEAKGATE_NODE_KEY')
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', first, { nodeId: 'edge-1' })).statusCode, 204)
  const second = generateKey()
  await plane.store.keys.seed(second, 'node', 'LEAKGATE_NODE_KEY')
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', second, { nodeId: 'edge-1', version: 'rotated' })).statusCode, 204)
  t.same((await fleet(plane)).map((n) => [n.id, n.version]), [['edge-1', 'rotated']])
  const third = await nodeKey(plane)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', third, { nodeId: 'edge-1' })).statusCode, 403, 'the live new key owns it now')
})

t.test('an admin key may report as any node, and binds none', async (t) => {
  const plane = await startPlane(t)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.admin, { nodeId: 'edge-1' })).statusCode, 204)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.admin, { nodeId: 'edge-2' })).statusCode, 204)
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.node, { nodeId: 'edge-1' })).statusCode, 204, 'a node key claims a node no key owns')
  t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.node, { nodeId: 'edge-2' })).statusCode, 403)
})
