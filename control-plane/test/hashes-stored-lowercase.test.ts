/**
 * Security regression: a scanner pushing a finding whose sha256 was uppercase hex had it stored as
 * sent, beside the lowercase hash of the same token: the index a node loads held an uppercase twin
 * it never matches, and the change stream carried a hash nodes refuse. The control plane stores every
 * hash lowercase, so the token is enforced once. Real control plane, real SQLite file.
 */
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { pushedFinding, snapshotIndex, startPlane } from './harness.js'

t.test('an uppercase sha256 in pushed findings is stored lowercase, and sync keeps working', async (t) => {
  const plane = await startPlane(t)
  const token = 'ghp_uppercaseHashRegression000000000000'
  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: sha256Hex(token) }], action: 'block' })
  t.equal(created.statusCode, 201)
  const upper = pushedFinding(token, { sha256: sha256Hex(token).toUpperCase() })
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [upper] })
  t.equal(res.statusCode, 202, res.body)
  const index = await snapshotIndex(plane)
  t.equal(index.size, 1, 'one token, not an uppercase twin')
  t.same(index.check(token)?.action, 'block')
  const changes = await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)
  t.equal(changes.statusCode, 200)
  for (const c of (changes.json() as { changes: Array<{ sha256: string }> }).changes) t.match(c.sha256, /^[0-9a-f]{64}$/)
})
