import t from 'tap'
import { startPlane } from '../test/harness.js'

t.test('stats count leaks by risk, source, status and action; status=all counts closed ones too', async (t) => {
  const plane = await startPlane(t)
  const leaks: [string, string, string][] = [['github', 'high', 'block'], ['github', 'low', 'monitor'], ['manual', 'high', 'monitor']]
  const ids: number[] = []
  for (const [i, [source, risk, action]] of leaks.entries()) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { source, risk, action, tokens: [{ value: `stats-token-number-${i}-abcdef` }] })
    t.equal(res.statusCode, 201)
    ids.push(res.json().id)
  }
  await plane.call('PATCH', `/v1/leaks/${ids[2]}`, plane.keys.admin, { status: 'closed' })

  const open = await plane.call('GET', '/v1/stats', plane.keys.analyst)
  t.equal(open.statusCode, 200)
  t.same(open.json(), {
    total: 2,
    byRisk: { low: 1, medium: 0, high: 1, critical: 0 },
    bySource: { github: 2 },
    byStatus: { open: 2, closed: 1, false_positive: 0 },
    byAction: { block: 1, monitor: 1 },
    riskBySource: { github: { low: 1, medium: 0, high: 1, critical: 0 } },
  })
  const all = (await plane.call('GET', '/v1/stats?status=all', plane.keys.analyst)).json()
  t.equal(all.total, 3)
  t.same(all.bySource, { github: 2, manual: 1 })
  t.same(all.riskBySource.manual, { low: 0, medium: 0, high: 1, critical: 0 })
})
