import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { startPlane } from '../test/harness.js'

t.test('sightings update hits, last seen and recent sightings, and raise the leak to high', async (t) => {
  const plane = await startPlane(t, { limits: { sightingsKeptPerLeak: 3 } })
  const raw = 'test_sandbox_token_abcdefgh'
  const leak = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: raw }], kind: 'stripe_test' })).json()
  t.equal(leak.risk, 'low')
  const sighting = (i: number): Record<string, unknown> => ({
    leakId: leak.id, sha256: sha256Hex(raw).toUpperCase(), at: `2026-11-28T10:00:0${i}.000Z`, host: 'api.example.com',
    method: 'GET', route: '/v1/users/:id', client: '203.0.113.9', verdict: 'monitor',
  })
  const res = await plane.call('POST', '/v1/sightings', plane.keys.node, {
    nodeId: 'edge-1', sightings: [sighting(1), sighting(3), sighting(2), { leakId: 999, at: '2026-11-28T10:00:00Z' }],
  })
  t.equal(res.statusCode, 202)
  t.same(res.json(), { accepted: 4, ignored: 0 }, 'the answer counts the batch, whatever its ids')

  const detail = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(detail.hits, 3)
  t.equal(detail.lastSeenAt, '2026-11-28T10:00:03.000Z', 'the newest sighting, not the last sent')
  t.equal(detail.risk, 'high', 'a leak seen in traffic at one node is high')
  t.ok(detail.riskFactors.some((f: { factor: string }) => f.factor === 'seen_in_traffic'))
  t.same(detail.sightings.map((s: { at: string }) => s.at), ['2026-11-28T10:00:03.000Z', '2026-11-28T10:00:02.000Z', '2026-11-28T10:00:01.000Z'])
  t.equal(detail.sightings[0].nodeId, 'edge-1')
  t.equal(detail.sightings[0].sha256, sha256Hex(raw), 'stored lowercase')
  t.equal(detail.sightings[0].route, '/v1/users/:id')

  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [sighting(4), sighting(5)] })
  const later = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(later.hits, 5, 'hits count every sighting')
  t.equal(later.sightings.length, 3, 'only the newest sightingsKeptPerLeak are kept')
  t.equal(later.sightings[0].at, '2026-11-28T10:00:05.000Z')

  const sorted = (await plane.call('GET', '/v1/leaks?sort=hits', plane.keys.analyst)).json()
  t.equal(sorted.items[0].id, leak.id)
})

t.test('an operator override of risk is kept when sightings arrive', async (t) => {
  const plane = await startPlane(t)
  const leak = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'override-token-abcdefgh' }], risk: 'low' })).json()
  t.equal(leak.riskOverridden, true)
  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: leak.id, at: '2026-11-28T10:00:00Z' }] })
  const detail = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(detail.risk, 'low')
  t.ok(detail.riskFactors.some((f: { factor: string }) => f.factor === 'seen_in_traffic'), 'the computed factors still show the sighting')
  t.ok(detail.riskFactors.some((f: { factor: string }) => f.factor === 'operator_override'))
})

t.test('too many sightings in one batch are refused', async (t) => {
  const plane = await startPlane(t, { limits: { sightingsPerBatch: 2 } })
  const s = { leakId: 1, at: '2026-11-28T10:00:00Z' }
  const res = await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [s, s, s] })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'LEAKGATE_ERR_VALIDATION')
})
