/**
 * A node on two processes (LEAKGATE_WORKERS=2), the real `leakgate node` against the real control plane:
 * a leaked credential is refused whichever worker answers; a decision made on the control plane reaches
 * both; every sighting reaches the control plane once; /metrics sums the workers; a killed worker is
 * started again and serves; SIGTERM drains them all and the last sightings still arrive. On an index
 * file: SIGHUP reloads every process, and a changed file reaches both workers. A port taken: exit 1.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { startPlane, type TestPlane } from '../../control-plane/test/harness.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { listening, spawnNode, type NodeProcess } from './cli-process.js'
import { startUpstream, tempDir, waitFor } from './helpers.js'

const rng = new Rng(0x3047)
const first = `lgtest_${rng.chars(36, ALPHA.base62)}`
const second = `lgtest_${rng.chars(36, ALPHA.base62)}`
const REQUESTS = 24

/** One GET on a connection of its own, so cluster hands each to a worker afresh. */
function get(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

async function addLeak(plane: TestPlane, token: string): Promise<number> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token }], action: 'block' })
  if (res.statusCode !== 201) throw new Error(`POST /v1/leaks: ${res.statusCode} ${res.body}`)
  return (res.json() as { id: number }).id
}

async function hits(plane: TestPlane, leakId: number): Promise<number> {
  return ((await plane.call('GET', `/v1/leaks/${leakId}`, plane.keys.analyst)).json() as { hits: number }).hits
}

interface Ready { status?: string; revision?: number; workers?: { ready: number; each: { pid: number; listening: boolean; revision: number | null }[] } }

async function readyz(adminUrl: string): Promise<Ready> {
  const res = await fetch(`${adminUrl}/readyz`)
  return (await res.json()) as Ready
}

async function metric(adminUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? NaN : Number(line.slice(series.length + 1))
}

/** The pids of the workers that logged a block of `leakId`. */
function blockers(p: NodeProcess, leakId: number): Set<unknown> {
  return new Set(p.logs().filter((l) => l.msg === 'blocked a request carrying a leaked credential' && l.leakId === leakId).map((l) => l.worker))
}

t.test('two workers: both refuse a leaked credential, follow decisions, report each sighting once, and are restarted', async (t) => {
  t.setTimeout(300_000)
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
  const { url, adminUrl } = await listening(p)
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
  const line = await p.waitForLog('a worker exited; starting another')
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

t.test('two workers on an index file: SIGHUP reloads the primary and every worker; a changed file reaches both', async (t) => {
  t.setTimeout(300_000)
  const upstream = await startUpstream(t)
  const dir = tempDir(t)
  const index = join(dir, 'leaks.snapshot')
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(first), action: 'block', leakId: 7 }], 1))
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({ upstream: upstream.url, logLevel: 'info', workers: '2' }))
  const p = spawnNode(t, ['--config', config, '--index', index, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'], { LEAKGATE_CACHE_DIR: join(dir, 'cache') })
  const { url, adminUrl } = await listening(p)
  t.equal(await get(`${url}/x`, first), 403)
  t.equal(await get(`${url}/x`, second), 200, 'the second token is not in the file yet')

  await writeFile(config, JSON.stringify({ upstream: upstream.url, logLevel: 'debug', workers: '2' }))
  p.child.kill('SIGHUP')
  await p.waitForLog('reloaded the workers')
  const configLines = p.logs().filter((l) => l.msg === 'reloaded the config file')
  t.equal(configLines.length, 3, 'the primary and both workers reloaded the config file')
  t.same(new Set(configLines.map((l) => l.logLevel)), new Set(['debug']))

  // The file replaced: the primary's watch loads it, and both workers get it.
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(first), action: 'block', leakId: 7 }, { sha256: sha256Hex(second), action: 'block', leakId: 8 }], 2))
  await waitFor('both workers at revision 2', async () => {
    const r = await readyz(adminUrl)
    return r.status === 'ready' && r.workers?.each.length === 2 && r.workers.each.every((w) => w.revision === 2)
  }, 30_000)
  const statuses: number[] = []
  for (let i = 0; i < REQUESTS; i++) statuses.push(await get(`${url}/x`, second))
  t.same(new Set(statuses), new Set([403]), 'the new entry refused by every worker')
  t.equal(blockers(p, 8).size, 2, 'both workers refused it')
  p.child.kill('SIGTERM')
  t.equal(await p.exit, 0)
  t.same(readdirSync(join(dir, 'cache', 'workers')), [], 'the index files written for the workers are removed at exit')
})

t.test('two workers, the proxy port taken: exit 1, one line naming the port and its option', async (t) => {
  t.setTimeout(300_000)
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const port = (taken.address() as AddressInfo).port
  const p = spawnNode(t, ['--upstream', 'http://127.0.0.1:9', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--port', String(port), '--admin-port', '0'], {
    LEAKGATE_WORKERS: '2', LEAKGATE_CACHE_DIR: tempDir(t), LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:9',
  })
  t.equal(await p.exit, 1, 'the process ends with exit code 1')
  const fatal = p.logs().filter((l) => l.level === 60)
  t.equal(fatal.length, 1, 'one fatal line')
  t.match(String(fatal[0]?.msg), `cannot listen on 127.0.0.1:${port}: the port is already in use`)
  t.match(String(fatal[0]?.msg), 'LEAKGATE_PORT')
  t.notMatch(p.stdout, 'leakgate node listening')
})
