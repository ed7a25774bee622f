import t from 'tap'
import { generateKey } from '../store/keys.js'
import { startPlane, storeSql } from '../test/harness.js'

t.test('heartbeats make the fleet: revision, lag, last contact, stale', async (t) => {
  const plane = await startPlane(t, { nodeStaleSeconds: 1 })
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'fleet-token-1-abcdefgh' }, { value: 'fleet-token-2-abcdefgh' }] })
  const hb = await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.node, { nodeId: 'edge-1', version: '0.1.0', revision: 1, indexEntries: 1, syncAgeSeconds: 0.3 })
  t.equal(hb.statusCode, 204)
  // Each node has its own key: a node key reports only as the node it first reported as.
  const second = generateKey()
  await plane.store.keys.add(second, 'node')
  await plane.call('POST', '/v1/nodes/heartbeat', second, { nodeId: 'edge-2', version: '0.1.0', revision: 2, indexEntries: 2 })

  const fleet = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json()
  t.equal(fleet.revision, 2)
  t.same(fleet.items.map((n: { id: string; lag: number; stale: boolean }) => [n.id, n.lag, n.stale]), [['edge-1', 1, false], ['edge-2', 0, false]])
  t.equal(fleet.items[0].indexEntries, 1)
  t.match(fleet.items[0].lastContactAt, /^\d{4}-\d\d-\d\dT/)

  // Age edge-1's last contact past the stale window (1 s) instead of sleeping.
  await storeSql(t, plane.store).run("UPDATE nodes SET last_contact_at = '2000-01-01T00:00:00.000Z' WHERE id = 'edge-1'")
  const later = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json()
  t.same(later.items.map((n: { stale: boolean }) => n.stale), [true, false])
  const metrics = await plane.call('GET', '/metrics')
  t.match(metrics.body, /leakgate_cp_nodes 1/, 'the gauge counts nodes heard from recently')
})
