import t from 'tap'
import { generateKey } from '../store/keys.js'
import { startPlane } from './harness.js'

t.test('sightings are recorded only for open leaks, and the answer is the same for unknown, closed and open ids', async (t) => {
  const plane = await startPlane(t)
  const open = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'open-leak-token-abcdefgh' }] })).json()
  const closed = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'closed-leak-token-abcdefgh' }] })).json()
  const falsePositive = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'fp-leak-token-abcdefgh' }] })).json()
  await plane.call('PATCH', `/v1/leaks/${closed.id}`, plane.keys.admin, { status: 'closed', comment: 'rotated' })
  await plane.call('PATCH', `/v1/leaks/${falsePositive.id}`, plane.keys.admin, { status: 'false_positive' })
  const at = '2026-11-28T10:00:00Z'

  const answers = []
  for (const leakId of [open.id, closed.id, falsePositive.id, 99_999]) {
    const res = await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId, at }, { leakId, at }] })
    t.equal(res.statusCode, 202)
    answers.push(res.body)
  }
  t.same(new Set(answers).size, 1, 'one answer for every kind of id')
  t.same(JSON.parse(answers[0] ?? '{}'), { accepted: 2, ignored: 0 })

  const after = async (id: number): Promise<{ hits: number; sightings: unknown[]; risk: string }> =>
    (await plane.call('GET', `/v1/leaks/${id}`, plane.keys.analyst)).json()
  t.equal((await after(open.id)).hits, 2, 'the open leak counts its sightings')
  for (const id of [closed.id, falsePositive.id]) {
    const leak = await after(id)
    t.equal(leak.hits, 0, `leak ${id} (not open) is not touched`)
    t.same(leak.sightings, [])
  }
})

t.test('a burst of sightings from one node raises risk as one node\'s evidence; a second node makes it critical', async (t) => {
  const plane = await startPlane(t)
  const leak = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'burst-leak-token-abcdefgh' }], kind: 'stripe_test' })).json()
  t.equal(leak.risk, 'low')
  const one = { leakId: leak.id, at: '2026-11-28T10:00:00Z' }
  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [one] })
  const afterOne = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(afterOne.risk, 'high', 'one (possibly forged) sighting: high, not critical')

  for (let i = 0; i < 5; i++) {
    await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: Array.from({ length: 1000 }, () => one) })
  }
  const afterBurst = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(afterBurst.hits, 5001)
  t.equal(afterBurst.risk, 'high', '5 000 more from the same node change nothing')
  const points = (l: { riskFactors: { points: number }[] }): number[] => l.riskFactors.map((f) => f.points)
  t.same(points(afterBurst), points(afterOne), 'the same points')

  const second = generateKey()
  await plane.store.keys.add(second, 'node')
  await plane.call('POST', '/v1/sightings', second, { nodeId: 'edge-2', sightings: [one] })
  const confirmed = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json()
  t.equal(confirmed.risk, 'critical', 'seen at a second node')
  t.match(confirmed.riskFactors.at(-1), { factor: 'seen_in_traffic', detail: /at 2 nodes/ })
})
