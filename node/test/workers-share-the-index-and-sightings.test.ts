/**
 * A node on two processes (LEAKGATE_WORKERS=2), the real `leakgate node` against the real control plane:
 * a leaked credential is refused whichever worker answers; a decision made on the control plane reaches
 * both; /metrics sums the workers (and passes promtool); a killed worker is logged and started again, and
 * its counts stay in the sums; SIGTERM drains them all, and every sighting reaches the control plane once.
 */
import { spawnSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startPlane } from '../../control-plane/test/harness.js'
import { spawnNode } from './cli-process.js'
import { startUpstream, tempDir, waitFor } from './helpers.js'
import { addLeak, blockers, first, get, hits, metric, readyz, REQUESTS, second, listeningWorkers } from './workers-helpers.js'

// Three processes each compile the TypeScript sources at start: minutes on a loaded machine, past the default file timeout.
t.setTimeout(360_000)

t.test('two workers: both refuse a leaked credential, follow decisions, report each sighting once, and are restarted', async (t) => {
  const upstream = await startUpstream(t)
  const plane = await startPlane(t)
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const cpUrl = `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
  const firstId = await addLeak(plane, first)
  const p = spawnNode(t, ['--upstream', upstream.url, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'], {
    LEAKGATE_WORKERS: '2', LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: plane.keys.node, LEAKGATE_CACHE_DIR: tempDir(t, 'leakgate-node-cache-'),
    LEAKGATE_NODE_ID: 'edge-workers-test', LEAKGATE_SYNC_WAIT_SECONDS: '1', LEAKGATE_HEARTBEAT_MS: '500', LEAKGATE_SIGHTING_FLUSH_MS: '50',
    LEAKGATE_LOG_LEVEL: 'info',
  })
  const { url, adminUrl } = await listeningWorkers(p)
  const ready = await waitFor('both workers ready', async () => {
    const r = await readyz(adminUrl)
    return r.status === 'ready' ? r : undefined
  }, 60_000)
  t.equal(ready.workers?.each.length, 2, 'two workers')

  const statuses: number[] = []
  for (let i = 0; i < REQUESTS; i++) statuses.push(await get(`${url}/v1/x`, first))
  t.same(new Set(statuses), new Set([403]), 'every request with the leaked credential refused')
  await waitFor('both workers to have logged blocks', () => blockers(p, firstId).size === 2, 10_000)
  t.equal(blockers(p, firstId).size, 2, 'both workers answered and refused')
  t.equal(await get(`${url}/v1/x`, 'not-a-leaked-credential-at-all'), 200, 'a clean request passes')

  // A decision on the control plane reaches every worker.
  const before = ready.revision ?? 0
  const secondId = await addLeak(plane, second)
  await waitFor('every worker at the new revision', async () => {
    const r = await readyz(adminUrl)
    const revision = r.revision ?? 0
    return revision > before && r.workers?.each.length === 2 && r.workers.each.every((w) => w.revision === revision)
  }, 30_000)
  const after: number[] = []
  for (let i = 0; i < REQUESTS; i++) after.push(await get(`${url}/v1/y`, second))
  t.same(new Set(after), new Set([403]), 'the new leak is refused by every worker')
  await waitFor('both workers to have blocked the new leak', () => blockers(p, secondId).size === 2, 10_000)

  // /metrics sums the processes.
  t.equal(await metric(adminUrl, 'leakgate_node_requests_total{verdict="block"}'), 2 * REQUESTS, 'blocks of both workers summed')
  t.equal(await metric(adminUrl, 'leakgate_node_requests_total{verdict="pass"}'), 1)
  t.equal(await metric(adminUrl, 'leakgate_node_workers'), 2)
  t.equal(await metric(adminUrl, 'leakgate_node_index_entries'), 2, 'the index series are the primary\'s, not summed over the processes')
  const promtool = process.env.LEAKGATE_PROMTOOL ?? 'promtool'
  if (spawnSync(promtool, ['--version'], { stdio: 'ignore' }).status === 0) {
    const run = spawnSync(promtool, ['check', 'metrics'], { input: await (await fetch(`${adminUrl}/metrics`)).text(), encoding: 'utf8' })
    t.equal(run.status, 0, `the summed metrics pass promtool check metrics: ${run.stdout}${run.stderr}`.trim())
  }

  // A killed worker is logged and started again; its counts stay in the sums.
  const victim = ready.workers?.each[0]?.pid as number
  process.kill(victim, 'SIGKILL')
  // A minute, and the node's last words if it does not come: a run of the whole suite once missed it in 30 s.
  const line = await p.waitForLog('a worker exited; starting another', () => true, 60_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; the node's last output:\n${p.stdout.slice(-3000)}\n${p.stderr.slice(-2000)}`)
  })
  t.equal(line.worker, victim)
  t.equal(line.signal, 'SIGKILL')
  await waitFor('two workers ready again', async () => {
    const r = await readyz(adminUrl)
    return r.status === 'ready' && r.workers?.each.every((w) => w.pid !== victim) === true
  }, 90_000)
  t.equal(await metric(adminUrl, 'leakgate_node_worker_restarts_total'), 1)
  const again: number[] = []
  for (let i = 0; i < REQUESTS; i++) again.push(await get(`${url}/v1/z`, first))
  t.same(new Set(again), new Set([403]), 'still refused after the restart')
  t.equal(await metric(adminUrl, 'leakgate_node_requests_total{verdict="block"}'), 3 * REQUESTS, 'the dead worker\'s blocks still counted')

  // SIGTERM drains the workers; the sightings they held still reach the control plane, each once.
  p.child.kill('SIGTERM')
  t.equal(await p.exit, 0, 'exits 0 after draining')
  t.equal(await hits(plane, firstId), 2 * REQUESTS, 'each sighting of the first leak reported once')
  t.equal(await hits(plane, secondId), REQUESTS, 'each sighting of the second leak reported once')
  t.notMatch(p.stdout, first, 'no credential in the logs')
})
