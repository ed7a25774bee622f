/**
 * Sync benchmark: how long from an operator's decision (PATCH sent) until nodes enforce it, with 1
 * node and with 50 nodes (50 real SyncClients in this process, each long-polling the control plane);
 * bytes on the wire per decision; and the snapshot's size, build time and transfer time at 1M leaks.
 *
 *   node --import ./scripts/register-ts.js bench/sync.bench.ts [--decisions 100] [--entries 1000000]
 *   node --import ./scripts/register-ts.js bench/sync.bench.ts --nodes 1000 [--processes 4] [--decisions 30]
 *     [--spacing-ms 500] [--idle-seconds 30] [--wait 25] [--heartbeat-ms 10000] [--ramp-seconds 10]
 *
 *   node --import ./scripts/register-ts.js bench/sync.bench.ts --confirm-ab [--fleets 200,500] [--processes 2] [--rounds 4]
 *     [--decisions 15] [--window-ms 2000] [--idle-seconds 10] [--heartbeat-ms 10000] [--ramp-seconds 10]
 *
 * With `--confirm-ab`, the nodes' early heartbeat (after a change applies) is measured on and off, rounds
 * interleaved, with real SyncClients (bench/sync-confirm.ts says how).
 *
 * With `--nodes N`, only the fleet is measured: the control plane in a process of its own and N
 * simulated nodes over `--processes` client processes (bench/sync-fleet.ts says how); `--decisions`
 * then defaults to 30.
 *
 * 1-node and 50-node rounds alternate (A B A B), half the decisions each round, on one control plane.
 * A node "enforces" a decision when its index answers the new action for the token (polled every
 * millisecond, so figures carry up to ~1 ms of detection delay).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { createLogger } from '../lib/logger.js'
import { buildControlPlane } from '../control-plane/app.js'
import { defaultControlPlaneConfig } from '../control-plane/config.js'
import { generateKey } from '../control-plane/store/keys.js'
import { Store } from '../control-plane/store/store.js'
import { NodeCounters } from '../node/metrics.js'
import { SyncClient } from '../node/sync-client.js'
import { IndexHolder } from '../node/verdict.js'
import { fillIndex } from './fill-index.js'
import { quantile } from './stats.js'

const { values } = parseArgs({
  options: {
    decisions: { type: 'string' }, entries: { type: 'string', default: '1000000' }, 'persist-ms': { type: 'string', default: '600000' },
    nodes: { type: 'string' }, processes: { type: 'string' }, 'spacing-ms': { type: 'string', default: '500' },
    'confirm-ab': { type: 'boolean' }, fleets: { type: 'string' }, rounds: { type: 'string', default: '4' }, 'window-ms': { type: 'string', default: '2000' },
    'idle-seconds': { type: 'string' }, wait: { type: 'string', default: '25' }, 'heartbeat-ms': { type: 'string', default: '10000' }, 'ramp-seconds': { type: 'string' },
  },
})
if (values['confirm-ab'] === true) {
  // Early heartbeats on and off, the same fleets interleaved (bench/sync-confirm.ts); nothing else is measured.
  const { runConfirmAB } = await import('./sync-confirm.js')
  await runConfirmAB({
    fleets: (values.fleets ?? '200,500').split(',').map(Number), processes: Number(values.processes ?? '2'), rounds: Number(values.rounds),
    decisions: Number(values.decisions ?? '15'), windowMs: Number(values['window-ms']), idleSeconds: Number(values['idle-seconds'] ?? '10'),
    waitSeconds: Number(values.wait), heartbeatMs: Number(values['heartbeat-ms']), // Nodes start over one heartbeat period, so their periodic heartbeats are spread as a fleet's are.
    rampSeconds: Number(values['ramp-seconds'] ?? Number(values['heartbeat-ms']) / 1000),
  })
  process.exit(0)
}
if (values.nodes !== undefined) {
  // The fleet: its own processes, its own tables (bench/sync-fleet.ts); nothing else is measured.
  const { runFleet } = await import('./sync-fleet.js')
  await runFleet({
    nodes: Number(values.nodes), processes: Number(values.processes ?? '4'), decisions: Number(values.decisions ?? '30'),
    spacingMs: Number(values['spacing-ms']), idleSeconds: Number(values['idle-seconds'] ?? '30'), waitSeconds: Number(values.wait), heartbeatMs: Number(values['heartbeat-ms']), rampSeconds: Number(values['ramp-seconds'] ?? '10'),
  })
  process.exit(0)
}
const DECISIONS = Number(values.decisions ?? '100')
const ENTRIES = Number(values.entries)
// 50 simulated nodes share this machine's one disk; real nodes each have their own. Their cache writes
// (debounced fsyncs) would queue behind each other and behind the control plane's own fsync, which
// says nothing about sync: persistence is pushed past each round. Set --persist-ms to see it included.
const PERSIST_MS = Number(values['persist-ms'])

const ms = (x: number): string => `${x.toFixed(1)} ms`

const root = mkdtempSync(join(tmpdir(), 'leakgate-sync-bench-'))
const store = await Store.open(join(root, 'cp'))
const admin = generateKey()
const nodeKey = generateKey()
await store.keys.add(admin, 'admin')
await store.keys.add(nodeKey, 'node')
const app = await buildControlPlane(defaultControlPlaneConfig({ dataDir: join(root, 'cp'), logLevel: 'warn' }), { store })
let changeBytes = 0
let changeAnswers = 0
app.addHook('onSend', async (request, _reply, payload) => {
  if (request.routeOptions.url === '/v1/sync/changes' && typeof payload === 'string' && payload.includes('"op"')) {
    changeBytes += Buffer.byteLength(payload)
    changeAnswers++
  }
  return payload
})
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
const auth = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }

const TOKEN = 'sk_live_bench_0123456789abcdefghijkl'
const created = (await (await fetch(`${base}/v1/leaks`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: [{ value: TOKEN }], action: 'monitor' }) })).json()) as { id: number }
let action: 'block' | 'monitor' = 'monitor'
const patchMs: number[] = []

const logger = createLogger('error', 'bench-node')
async function startNodes(n: number, round: number): Promise<{ holders: IndexHolder[]; stop: () => Promise<void> }> {
  const holders: IndexHolder[] = []
  const clients: SyncClient[] = []
  for (let i = 0; i < n; i++) {
    const holder = new IndexHolder()
    // A node key reports only as the node it first reported as: each simulated node has its own.
    const key = generateKey()
    await store.keys.add(key, 'node')
    const client = new SyncClient({
      controlPlane: base, nodeKey: key, nodeId: `bench-${round}-${i}`, version: 'bench', cacheDir: join(root, `node-${round}-${i}`),
      waitSeconds: 25, heartbeatMs: 60_000, persistDebounceMs: PERSIST_MS, indexOptions: {}, holder, counters: new NodeCounters(), logger,
    })
    client.start()
    holders.push(holder)
    clients.push(client)
  }
  const revision = await store.index.revision()
  await until(() => holders.every((h) => (h.current?.revision ?? -1) >= revision), 30_000)
  return { holders, stop: async () => { await Promise.all(clients.map((c) => c.stop())) } }
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 1))
  }
}

/** One decision: PATCH, then the time until each node's index answers the new action. */
async function decide(holders: IndexHolder[]): Promise<number[]> {
  action = action === 'block' ? 'monitor' : 'block'
  const want = action
  const seen: number[] = new Array<number>(holders.length).fill(-1)
  const t0 = performance.now()
  const res = await fetch(`${base}/v1/leaks/${created.id}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ action: want }) })
  if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`)
  await res.arrayBuffer()
  patchMs.push(performance.now() - t0)
  await until(() => {
    let all = true
    const now = performance.now()
    holders.forEach((h, i) => {
      if (seen[i]! >= 0) return
      if (h.current?.check(TOKEN)?.action === want) seen[i] = now - t0
      else all = false
    })
    return all
  }, 30_000)
  return seen
}

const results: Record<'1' | '50', { perNode: number[]; lastNode: number[]; patch: number[] }> = { '1': { perNode: [], lastNode: [], patch: [] }, '50': { perNode: [], lastNode: [], patch: [] } }
const bytes: Record<'1' | '50', { bytes: number; answers: number; decisions: number }> = { '1': { bytes: 0, answers: 0, decisions: 0 }, '50': { bytes: 0, answers: 0, decisions: 0 } }
const rounds: ('1' | '50')[] = DECISIONS > 0 ? ['1', '50', '1', '50'] : []
for (const [r, n] of rounds.entries()) {
  const { holders, stop } = await startNodes(Number(n), r)
  // A few warm-up decisions so connection set-up is not counted.
  for (let i = 0; i < 3; i++) await decide(holders)
  patchMs.length = 0
  changeBytes = 0
  changeAnswers = 0
  for (let i = 0; i < DECISIONS / 2; i++) {
    const seen = await decide(holders)
    results[n].perNode.push(...seen)
    results[n].lastNode.push(Math.max(...seen))
  }
  results[n].patch.push(...patchMs.splice(0))
  bytes[n].bytes += changeBytes
  bytes[n].answers += changeAnswers
  bytes[n].decisions += DECISIONS / 2
  await stop()
}

const lines: string[] = []
if (DECISIONS > 0) {
  lines.push(`Decision to enforcement (${DECISIONS} decisions per fleet size, rounds 1-50-1-50):`, '')
  lines.push('| nodes | PATCH answered p50 | p50 (each node) | p99 (each node) | p50 (last node) | p99 (last node) | max | changes body bytes per decision per node |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const n of ['1', '50'] as const) {
    const each = [...results[n].perNode].sort((a, b) => a - b)
    const last = [...results[n].lastNode].sort((a, b) => a - b)
    const perNode = bytes[n].bytes / bytes[n].decisions / Number(n)
    lines.push(`| ${n} | ${ms(quantile([...results[n].patch].sort((a, b) => a - b), 0.5))} | ${ms(quantile(each, 0.5))} | ${ms(quantile(each, 0.99))} | ${ms(quantile(last, 0.5))} | ${ms(quantile(last, 0.99))} | ${ms(last.at(-1) ?? 0)} | ${perNode.toFixed(0)} |`)
  }
}

// Snapshot at ENTRIES leaks: the index table filled directly (the snapshot reads only it).
// A connection of the bench's own: the store offers no SQL handle.
const sqlite = new Database(store.location.address)
const fill = performance.now()
fillIndex(sqlite, ENTRIES)
const fillMs = performance.now() - fill
const nodeAuth = { authorization: `Bearer ${nodeKey}` }
const builds: number[] = []
const transfers: number[] = []
const healthMax: number[] = []
let size = 0
for (let i = 0; i < 5; i++) {
  // A B A B: a snapshot at a new revision (built in the worker; polled until served), then the
  // cached one; /healthz is timed throughout to show the event loop is not stalled by the build.
  sqlite.prepare("UPDATE meta SET value = value + 1 WHERE key = 'revision'").run()
  const want = String(await store.index.revision())
  let worstHealth = 0
  let building = true
  const pinger = (async () => {
    while (building) {
      const h0 = performance.now()
      await (await fetch(`${base}/healthz`)).arrayBuffer()
      worstHealth = Math.max(worstHealth, performance.now() - h0)
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  let t0 = performance.now()
  let etag = ''
  for (;;) {
    // Like a node, poll with the ETag it has: the stale snapshot answers 304, not 36 MB again.
    const res = await fetch(`${base}/v1/sync/snapshot`, { headers: { ...nodeAuth, 'if-none-match': etag } })
    const body = await res.arrayBuffer()
    etag = res.headers.get('etag') ?? etag
    if (res.headers.get('leakgate-revision') === want) {
      size = body.byteLength
      break
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  builds.push(performance.now() - t0)
  building = false
  await pinger
  healthMax.push(worstHealth)
  t0 = performance.now()
  const res = await fetch(`${base}/v1/sync/snapshot`, { headers: nodeAuth })
  await res.arrayBuffer()
  transfers.push(performance.now() - t0)
}
builds.sort((a, b) => a - b)
transfers.sort((a, b) => a - b)
healthMax.sort((a, b) => a - b)
lines.push('', `Snapshot at ${ENTRIES.toLocaleString('en')} index entries: ${(size / 1e6).toFixed(1)} MB. ` +
  `New revision until its snapshot is served (worker build + transfer): median ${ms(quantile(builds, 0.5))}; ` +
  `cached snapshot over loopback: median ${ms(quantile(transfers, 0.5))}; ` +
  `slowest /healthz during a build: median ${ms(quantile(healthMax, 0.5))} (5 runs each, interleaved; table filled in ${ms(fillMs)}).`)
console.log(lines.join('\n'))

await app.close()
sqlite.close()
await store.close()
rmSync(root, { recursive: true, force: true })
