/**
 * Writes a replica acknowledged survive a kill -9 of that replica: the other replica reads them.
 */
import t from 'tap'
import { withPostgres } from './postgres.js'
import { request } from './process.js'
import { tokenMaker, cluster, replica, nodeOn, converged, addLeak, decide, pool, type Leak } from './replicas.js'

t.test('writes acknowledged by a replica survive its kill -9, read through the other', withPostgres, async (t) => {
  const c = await cluster(t)
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const node = await nodeOn(t, c, b.url, 'edge-on-b')
  const token = tokenMaker(3)
  const acked: Leak[] = []
  await pool(4, Array.from({ length: 20 }, (_, i) => async () => {
    acked.push(await addLeak(a.url, c.admin, token(), i % 2 === 0 ? 'block' : 'monitor', `durable ${i}`))
  }))
  const decided = acked[0] as Leak
  await decide(a.url, c.admin, decided.id, { action: 'monitor' })
  // No pause: the kill lands right after the last acknowledgement.
  await a.kill('SIGKILL')
  t.equal(a.child.signalCode, 'SIGKILL')

  for (const leak of acked) {
    const res = await request(`${b.url}/v1/leaks/${leak.id}`, c.admin)
    t.equal(res.status, 200, `leak ${leak.id} acknowledged by A is read through B`)
  }
  const detail = (await request(`${b.url}/v1/leaks/${decided.id}`, c.admin)).json() as { action: string; decisions: unknown[] }
  t.equal(detail.action, 'monitor', 'the decision acknowledged just before the kill is there')
  const db = await converged([node], c.databaseUrl)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'revisions 1..N')
  for (const leak of acked) t.ok(node.node.holder.current?.check(leak.token) !== undefined, `the node on B holds leak ${leak.id}`)
})
