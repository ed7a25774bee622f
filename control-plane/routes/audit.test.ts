import t from 'tap'
import { startPlane } from '../test/harness.js'

t.test('the audit log pages newest first, across leaks or for one', async (t) => {
  const plane = await startPlane(t)
  const a = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'audit-token-one-abcdefgh' }] })).json()
  const b = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'audit-token-two-abcdefgh' }] })).json()
  await plane.call('PATCH', `/v1/leaks/${a.id}`, plane.keys.admin, { action: 'block', comment: 'in use' })

  const seen: [number, string | null][] = []
  let cursor: string | null = null
  do {
    const res = await plane.call('GET', `/v1/audit?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`, plane.keys.analyst)
    t.equal(res.statusCode, 200)
    const page = res.json()
    seen.push(...page.items.map((d: { leakId: number; comment: string | null }) => [d.leakId, d.comment] as [number, string | null]))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(seen, [[a.id, 'in use'], [b.id, null], [a.id, null]], 'newest first, each once')

  const ofA = (await plane.call('GET', `/v1/audit?leakId=${a.id}`, plane.keys.analyst)).json()
  t.same(ofA.items.map((d: { to: { action: string } }) => d.to.action), ['block', 'monitor'])
  t.equal(ofA.nextCursor, null)
  const bad = await plane.call('GET', '/v1/audit?cursor=not-a-cursor', plane.keys.analyst)
  t.equal(bad.statusCode, 400)
})
