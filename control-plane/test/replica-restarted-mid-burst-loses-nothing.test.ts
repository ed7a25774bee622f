/**
 * A replica killed and restarted in the middle of a burst of decisions (on it and on the other
 * replica) loses none that were acknowledged, and the nodes of both converge on the database's index.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { waitFor } from './harness.js'
import { withPostgres } from './postgres.js'
import { request } from './process.js'
import { tokenMaker, freePort, cluster, replica, nodeOn, differs, converged, addLeak, decide } from './replicas.js'

// A replica started twice and a burst of decisions on a machine that may be busy: more than tap's default.
t.setTimeout(300_000)

t.test('a replica restarted mid-burst loses no acknowledged decision; the nodes converge', withPostgres, async (t) => {
  const c = await cluster(t)
  const port = await freePort()
  let a = await replica(t, c, port)
  const b = await replica(t, c)
  const nodes = [await nodeOn(t, c, a.url, 'edge-on-a'), await nodeOn(t, c, b.url, 'edge-on-b')]
  const token = tokenMaker(4)

  /** Per leak: its token and the action of its last acknowledged decision; `unsure` once a request went unanswered. */
  const leaks = new Map<number, { token: string; action: string; unsure: boolean }>()
  let ackedOnA = 0
  let refused = 0
  const burst = async (planeUrl: () => string, onA: boolean): Promise<void> => {
    let open: number | undefined
    for (let i = 0; i < 60; i++) {
      try {
        if (open === undefined) {
          const value = token()
          const action = i % 2 === 0 ? 'block' : 'monitor'
          const leak = await addLeak(planeUrl(), c.admin, value, action)
          leaks.set(leak.id, { token: value, action, unsure: false })
          open = leak.id
        } else {
          const state = leaks.get(open)
          if (state === undefined) throw new Error('unknown leak')
          const action = state.action === 'block' ? 'monitor' : 'block'
          state.unsure = true
          await decide(planeUrl(), c.admin, open, { action })
          Object.assign(state, { action, unsure: false })
          open = undefined
        }
        if (onA) ackedOnA++
      } catch {
        // The replica is down: nothing was acknowledged; try again shortly (a decision stays unsure).
        refused++
        open = undefined
        await sleep(100)
      }
    }
  }
  const restart = (async () => {
    await waitFor('A to acknowledge some of the burst', () => ackedOnA >= 10, 30_000)
    await a.kill('SIGKILL')
    a = await replica(t, c, port)
  })()
  await Promise.all([burst(() => a.url, true), burst(() => b.url, false), restart])
  t.comment(`${leaks.size} leaks, ${refused} requests refused while A was down`)
  t.ok(refused > 0, 'some requests met the replica down')

  for (const [id, state] of leaks) {
    const res = await request(`${b.url}/v1/leaks/${id}`, c.admin)
    t.equal(res.status, 200, `acknowledged leak ${id} is there`)
    if (!state.unsure) t.equal((res.json() as { action: string }).action, state.action, `leak ${id} has its last acknowledged decision`)
  }
  const db = await converged(nodes, c.databaseUrl, 60_000)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'revisions 1..N')
  for (const node of nodes) t.equal(differs(node, db), undefined, `${node.config.nodeId} holds exactly the database's index`)
})
