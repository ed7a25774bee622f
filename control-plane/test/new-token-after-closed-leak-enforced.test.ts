/**
 * Security regression: when a leak had been closed (its token rotated) and a rescan of the same place
 * found a new token there, the new token was filed under the closed leak, so no node ever blocked
 * it. It now becomes a new open leak holding only the new token, enforced, while the rotated token
 * stays out of the index and further rescans add no duplicate. Real control plane, real SQLite file.
 */
import t from 'tap'
import { pushedFinding, snapshotIndex, startPlane } from './harness.js'

t.test('a new token found where a closed leak was becomes a new open leak, enforced', async (t) => {
  const plane = await startPlane(t)
  const oldToken = 'ghp_rotatedAwayRegressionToken0000000000'
  const newToken = 'ghp_leakedAgainRegressionToken000000000'
  const first = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [pushedFinding(oldToken)] })
  t.equal(first.statusCode, 202)
  const leakId = (await plane.call('GET', '/v1/leaks?status=open', plane.keys.admin)).json().items[0].id as number
  t.equal((await plane.call('PATCH', `/v1/leaks/${leakId}`, plane.keys.admin, { status: 'closed', comment: 'rotated' })).statusCode, 200)
  // The rescan still sees the old token in history, and a new one in the same file.
  const rescan = { source: { type: 'dir', path: '/x' }, findings: [pushedFinding(oldToken), pushedFinding(newToken)] }
  const again = await plane.call('POST', '/v1/scans', plane.keys.admin, rescan)
  t.equal(again.statusCode, 202)
  const open = (await plane.call('GET', '/v1/leaks?status=open', plane.keys.admin)).json().items as Array<{ id: number; tokenCount: number }>
  t.equal(open.length, 1, 'the new exposure is an open leak')
  t.not(open[0]!.id, leakId)
  t.equal(open[0]!.tokenCount, 1, 'holding only the new token')
  const index = await snapshotIndex(plane)
  t.ok(index.check(newToken), 'the new token is enforced')
  t.notOk(index.check(oldToken), 'the rotated one stays out')
  const third = await plane.call('POST', '/v1/scans', plane.keys.admin, rescan)
  t.equal(third.json().leaksCreated, 0, 'a rescan finds the successor: no duplicate')
})
