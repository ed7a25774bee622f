/**
 * Concurrent decisions through two replicas: the change log's revisions are 1..N with no gap or
 * duplicate, and every node (on either replica) ends with exactly the index the database holds.
 */
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { withPostgres } from './postgres.js'
import { request } from './process.js'
import { tokenMaker, cluster, replica, nodeOn, differs, converged, decide, pool } from './replicas.js'

// Hundreds of decisions through two processes on a machine that may be busy: more than tap's default.
t.setTimeout(300_000)

t.test('concurrent decisions on both replicas: gap-free revisions, every node on the database\'s index', withPostgres, async (t) => {
  const c = await cluster(t, { hashKey: true })
  // Both start at once with a hash key on an empty store: one converts it, the other finds it done.
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const nodes = await Promise.all([
    nodeOn(t, c, a.url, 'edge-a1'), nodeOn(t, c, a.url, 'edge-a2'), nodeOn(t, c, b.url, 'edge-b1'), nodeOn(t, c, b.url, 'edge-b2'),
  ])
  const token = tokenMaker(2)
  // Leak i on A and leak i on B hold one shared token besides their own: both replicas refresh its entry.
  const shared = Array.from({ length: 30 }, () => token())
  const jobs = (planeUrl: string, side: number): Array<() => Promise<void>> => shared.map((sharedToken, i) => async () => {
    const res = await request(`${planeUrl}/v1/leaks`, c.admin, 'POST', { title: `leak ${side}-${i}`, tokens: [{ value: token() }, { value: sharedToken }], action: 'monitor' })
    if (res.status !== 201) throw new Error(`POST /v1/leaks: ${res.status}`)
    const id = (res.json() as { id: number }).id
    await decide(planeUrl, c.admin, id, { action: 'block' })
    await decide(planeUrl, c.admin, id, { action: 'monitor' })
    if (i % 3 === 0) await decide(planeUrl, c.admin, id, { action: 'block' })
    if (i % 5 === 0) await decide(planeUrl, c.admin, id, { status: 'closed' })
  })
  const started = performance.now()
  await Promise.all([pool(6, jobs(a.url, 0)), pool(6, jobs(b.url, 1))])
  t.comment(`${2 * shared.length} leaks and their decisions through two replicas at once in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  const db = await converged(nodes, c.databaseUrl)
  t.ok(db.revision > 4 * shared.length, `the revision rose with every change (${db.revision})`)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'the change log holds revisions 1..N, each once, no gap')
  t.ok(db.entries.size > 0, `the index holds ${db.entries.size} entries`)
  for (const node of nodes) t.equal(differs(node, db), undefined, `${node.config.nodeId} holds exactly the database's index`)
  const blocked = [...db.entries.values()].filter((e) => e.action === 'block').length
  t.ok(blocked > 0 && blocked < db.entries.size, `blocking and monitoring entries both (${blocked} blocking)`)
})
