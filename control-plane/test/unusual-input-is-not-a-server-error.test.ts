/**
 * Security regression: input the schema allows but the code did not expect answered 500, and a 500
 * is retried. A sighting time JavaScript's Date cannot hold (a leap second) failed the node's whole
 * sightings batch, which the node kept sending, so later uses of leaked tokens went unrecorded; a pushed finding without a location
 * failed the scan push, so the leak it reported was never enforced. Now the first is a 400 (the node
 * drops that batch) and the second is accepted. Real control plane, real SQLite file.
 */
import t from 'tap'
import { pushedFinding, startPlane } from './harness.js'

t.test('a sighting time Date cannot hold (leap second) is a 400, not a 500 that blocks the batch', async (t) => {
  const plane = await startPlane(t)
  const res = await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'e1', sightings: [{ leakId: 1, at: '2025-12-31T23:59:60Z', host: 'a', method: 'GET', route: '/', client: '127.0.0.1', verdict: 'block' }] })
  t.equal(res.statusCode, 400, res.body)
})

t.test('a pushed finding without a location is accepted, not a 500', async (t) => {
  const plane = await startPlane(t)
  const f = pushedFinding('ghp_noLocationRegressionToken0000000000')
  delete f.location
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [f] })
  t.equal(res.statusCode, 202, res.body)
  t.equal(res.json().leaksCreated, 1)
})
