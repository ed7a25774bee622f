/**
 * A decision taken through replica A is enforced, within the second, by a node long-polling replica B
 * (PostgreSQL LISTEN/NOTIFY wakes B's held long-poll).
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { withPostgres } from './postgres.js'
import { tokenMaker, cluster, replica, nodeOn, databaseIndex, differs, converged, addLeak } from './replicas.js'

t.test('a decision taken through replica A reaches a node long-polling replica B within the second', withPostgres, async (t) => {
  const c = await cluster(t)
  // Started at once: migrations and the admin key's seeding meet on an empty database.
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const node = await nodeOn(t, c, b.url, 'edge-on-b')
  const token = tokenMaker(1)
  await addLeak(a.url, c.admin, token(), 'monitor')
  await converged([node], c.databaseUrl)

  const figures: number[] = []
  for (let i = 0; i < 5; i++) {
    await converged([node], c.databaseUrl)
    // The node's long-poll is held on B by now (it asked again as soon as it had the last change).
    await sleep(300)
    const value = token()
    const start = performance.now()
    await addLeak(a.url, c.admin, value, 'block')
    while (node.node.holder.current?.check(value)?.action !== 'block') {
      if (performance.now() - start > 5000) break
      await sleep(1)
    }
    figures.push(performance.now() - start)
  }
  const worst = Math.max(...figures)
  t.comment(`decision through A → enforced by a node on B: ${figures.map((f) => f.toFixed(0)).join(', ')} ms (worst ${worst.toFixed(0)} ms)`)
  t.ok(worst < 1000, `every decision was enforced within the second (worst ${worst.toFixed(0)} ms)`)
  t.notOk(differs(node, await databaseIndex(c.databaseUrl)), 'and the node holds the database\'s index')
})
