import t from 'tap'
import { startPlane } from '../test/harness.js'

t.test('healthz answers with the revision; the leaks gauge counts by status, risk and action', async (t) => {
  const plane = await startPlane(t)
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { risk: 'high', action: 'block', tokens: [{ value: 'health-token-one-abcdefgh' }] })
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { risk: 'high', action: 'block', tokens: [{ value: 'health-token-two-abcdefgh' }] })

  const health = await plane.call('GET', '/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', revision: 2 })
  const metrics = await plane.call('GET', '/metrics')
  t.match(metrics.body, /leakgate_cp_leaks\{status="open",risk="high",action="block"\} 2/)
  t.match(metrics.body, /leakgate_cp_index_entries 2/)
})
