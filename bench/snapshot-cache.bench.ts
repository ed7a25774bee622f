/**
 * Snapshot fan-out through a cache: 200 simulated nodes (plain HTTP clients, spread over several
 * processes so the client side is not the limit) fetch a 1M-entry snapshot at the same moment, through
 * nginx run from the shipped deploy/nginx/control-plane-cache.conf (cold cache) in front of the real
 * control plane (its own process), and, for comparison, from the control plane directly as a node that
 * predates the redirect does.
 *
 *   node --import ./scripts/register-ts.js bench/snapshot-cache.bench.ts [--nodes 200] [--entries 1000000] [--processes 4] [--rounds 1]
 *
 * Through nginx a client does what a node does: `GET /v1/sync/snapshot?redirect=true` (passed through to
 * the control plane), then the immutable URL it is sent to (authorized by the control plane with a HEAD,
 * served by the cache). Recorded per round: the time from "go" until every client has the whole body
 * (and its median), requests and snapshot builds reaching the control plane (its own /metrics), and the
 * CPU the control plane and nginx used (/proc). The snapshot at the start revision is built when the
 * control plane starts (before any round): that one build is what every round serves.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { Agent, request } from 'undici'
import { generateKey } from '../control-plane/store/keys.js'
import { Store } from '../control-plane/store/store.js'
import { spawnPlane, type PlaneProcess } from '../control-plane/test/process.js'
import { cacheRecipe } from '../control-plane/test/nginx-cache.js'
import { startNginx, type RunningNginx } from '../node/test/check-mode-helpers.js'
import { tempDir, waitFor } from '../test/support.js'
import { fillIndex } from './fill-index.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    entries: { type: 'string', default: '1000000' },
    processes: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '1' },
    // Internal: this file run as one process of simulated nodes.
    client: { type: 'string' },
  },
})

/** What one simulated node reports. */
interface Fetched {
  ms: number
  retries: number
  bytes: number
  status: number
  cache: string
}

/** A process of simulated nodes: each its own connection; all start on the parent's "go". */
async function runClients(spec: { base: string; key: string; count: number; redirect: boolean }): Promise<void> {
  const agent = new Agent({ connections: spec.count * 2, headersTimeout: 600_000, bodyTimeout: 600_000 })
  const headers = { authorization: `Bearer ${spec.key}` }
  const attempt = async (): Promise<Omit<Fetched, 'ms' | 'retries'>> => {
    let url = `${spec.base}/v1/sync/snapshot${spec.redirect ? '?redirect=true' : ''}`
    let res = await request(url, { dispatcher: agent, headers })
    if (res.statusCode === 307) {
      await res.body.dump()
      url = new URL(String(res.headers.location), `${spec.base}/v1/sync/snapshot`).href
      res = await request(url, { dispatcher: agent, headers })
    }
    let bytes = 0
    for await (const chunk of res.body) bytes += (chunk as Buffer).length
    return { bytes, status: res.statusCode, cache: String(res.headers['leakgate-cache'] ?? '-') }
  }
  // As a node does, a failed fetch is tried again (a node backs off first; counted here instead).
  const one = async (go: number): Promise<Fetched> => {
    for (let retries = 0; ; retries++) {
      const got = await attempt().catch(() => ({ bytes: 0, status: 0, cache: '-' }))
      if (got.status === 200 || retries === 3) return { ...got, ms: Date.now() - go, retries }
    }
  }
  process.on('message', (msg: { go: number }) => {
    void (async () => {
      const results = await Promise.all(Array.from({ length: spec.count }, () => one(msg.go)))
      process.send?.(results, () => process.exit(0))
    })()
  })
  process.send?.('ready')
}

async function main(): Promise<void> {
  const NODES = Number(values.nodes)
  const ENTRIES = Number(values.entries)
  const PROCESSES = Math.min(Number(values.processes), NODES)
  const ROUNDS = Number(values.rounds)
  const undo: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => void undo.unshift(fn) }
  try {
    const root = tempDir(t, 'leakgate-snapshot-cache-bench-')
    const nodeKey = generateKey()
    await fillStore(join(root, 'cp'), ENTRIES)
    const started = Date.now()
    const plane = await spawnPlane(t, { LEAKGATE_DATA_DIR: join(root, 'cp'), LEAKGATE_NODE_KEY: nodeKey, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_MAX_CONNECTIONS: '10000' }, 300_000)
    await waitFor('the start snapshot to be built', async () => (await planeMetrics(plane)).builds >= 1, 300_000)
    console.log(`control plane up, ${ENTRIES.toLocaleString('en')}-entry snapshot built ${((Date.now() - started) / 1000).toFixed(1)} s after its start`)

    // What the control plane burns doing nothing (timers, GC), to read the rounds' CPU against.
    const idle0 = cpuSeconds(plane.child.pid as number)
    await new Promise((resolve) => setTimeout(resolve, 10_000))
    idleRate = (cpuSeconds(plane.child.pid as number) - idle0) / 10
    console.log(`control plane idle: ${idleRate.toFixed(3)} CPU s a second`)

    const lines = [
      `| round | nodes | all have it | median | retries | snapshot bodies sent by the CP | other requests to the CP | snapshot builds | CP CPU (above idle) | nginx CPU |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for (let r = 0; r < ROUNDS; r++) {
      for (const via of ['nginx', 'direct'] as const) {
        // A fresh nginx each round: its cache starts cold.
        const nginx = via === 'nginx' ? await startCacheNginx(plane) : undefined
        const base = nginx?.url ?? plane.url
        const row = await round(plane, nginx, { base, key: nodeKey, nodes: NODES, processes: PROCESSES, redirect: via === 'nginx' })
        lines.push(`| ${via === 'nginx' ? 'through nginx (cold cache)' : 'direct, no redirect (older nodes)'} | ${NODES} | ${row.all} | ${row.median} | ${row.retries} | ${row.bodies} | ${row.others} | ${row.builds} | ${row.cpCpu} | ${row.nginxCpu} |`)
        console.log(lines.at(-1))
      }
    }
    console.log(`\n${lines.join('\n')}`)
  } finally {
    for (const fn of undo) await fn()
  }
}

/** A store with `entries` index entries, written directly (the snapshot reads only the index table). */
async function fillStore(dir: string, entries: number): Promise<void> {
  await (await Store.open(dir)).close()
  const sqlite = new Database(join(dir, 'leakgate.db'))
  fillIndex(sqlite, entries)
  sqlite.close()
}

let nginxDir = ''
let idleRate = 0
async function startCacheNginx(plane: PlaneProcess): Promise<RunningNginx & { stop: () => Promise<void> }> {
  const undo: Array<() => unknown> = []
  const nginx = await startNginx({ teardown: (fn) => void undo.unshift(fn) }, (listen, dir) => {
    nginxDir = dir
    return cacheRecipe({ controlPlane: Number(new URL(plane.url).port), listen }, dir)
  }, { workerConnections: 4096 })
  return { ...nginx, stop: async () => { for (const fn of undo) await fn() } }
}

async function planeMetrics(plane: PlaneProcess): Promise<{ builds: number; bodies: number; others: number; kinds: Map<string, number> }> {
  const kinds = new Map<string, number>()
  const text = await (await fetch(`${plane.url}/metrics`)).text()
  let builds = 0
  let bodies = 0
  let others = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('leakgate_cp_snapshot_builds_total ')) builds = Number(line.split(' ')[1])
    if (!line.startsWith('leakgate_cp_http_requests_total{') || line.includes('route="/metrics"')) continue
    const n = Number(line.slice(line.lastIndexOf(' ') + 1))
    // A snapshot body leaves the control plane on a 200 GET of either snapshot route.
    if (/method="GET",route="\/v1\/sync\/snapshot(\/:revision)?",status_code="200"/.test(line)) bodies += n
    else {
      others += n
      const m = /method="(\w+)",route="([^"]+)",status_code="(\d+)"/.exec(line)
      if (m !== null) kinds.set(`${m[1]} ${m[2]} ${m[3]}`, n)
    }
  }
  return { builds, bodies, others, kinds }
}

/** User + system CPU seconds of a process and its threads (and, with `children`, its child processes). */
function cpuSeconds(pid: number, children = false): number {
  const ticks = (p: number): number => {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  }
  let total = ticks(pid)
  if (children) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += ticks(Number(entry))
      } catch {
        // the process ended meanwhile
      }
    }
  }
  // Linux counts in USER_HZ, 100 a second on every architecture it runs on.
  return total / 100
}

async function round(plane: PlaneProcess, nginx: (RunningNginx & { stop: () => Promise<void> }) | undefined, o: { base: string; key: string; nodes: number; processes: number; redirect: boolean }) {
  const children: ChildProcess[] = []
  const ready: Array<Promise<void>> = []
  const results: Array<Promise<Fetched[]>> = []
  for (let p = 0; p < o.processes; p++) {
    const count = Math.floor(o.nodes / o.processes) + (p < o.nodes % o.processes ? 1 : 0)
    const child = fork(new URL(import.meta.url), ['--client', JSON.stringify({ base: o.base, key: o.key, count, redirect: o.redirect })], { execArgv: ['--import', './scripts/register-ts.js'], stdio: 'inherit' })
    children.push(child)
    ready.push(new Promise((resolve) => child.once('message', () => resolve())))
    results.push(new Promise((resolve, reject) => {
      child.on('message', (m) => { if (Array.isArray(m)) resolve(m as Fetched[]) })
      child.once('exit', (code) => reject(new Error(`client process exited ${code}`)))
    }))
  }
  await Promise.all(ready)
  const nginxPid = nginx === undefined ? undefined : Number(readFileSync(join(nginxDir, 'nginx.pid'), 'utf8'))
  const before = await planeMetrics(plane)
  const cpBefore = cpuSeconds(plane.child.pid as number)
  const nginxBefore = nginxPid === undefined ? 0 : cpuSeconds(nginxPid, true)
  const go = Date.now()
  for (const child of children) child.send({ go })
  const fetched = (await Promise.all(results)).flat()
  const cpCpu = cpuSeconds(plane.child.pid as number) - cpBefore
  const elapsed = (Date.now() - go) / 1000
  const nginxCpu = nginxPid === undefined ? undefined : cpuSeconds(nginxPid, true) - nginxBefore
  const after = await planeMetrics(plane)
  await nginx?.stop()
  const bad = fetched.filter((f) => f.status !== 200 || f.bytes !== fetched[0]?.bytes)
  if (bad.length > 0) throw new Error(`${bad.length} clients did not get the snapshot: ${JSON.stringify(bad.slice(0, 3))}`)
  const times = fetched.map((f) => f.ms).sort((a, b) => a - b)
  const caches = Object.entries(fetched.reduce<Record<string, number>>((acc, f) => ({ ...acc, [f.cache]: (acc[f.cache] ?? 0) + 1 }), {})).map(([k, v]) => `${k} ${v}`).join(', ')
  const kinds = [...after.kinds].map(([k, n]) => [k, n - (before.kinds.get(k) ?? 0)] as const).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(', ')
  console.log(`  ${o.base}: ${fetched.length} × ${(fetched[0]?.bytes ?? 0) / 1e6} MB; cache: ${caches}; other requests to the CP: ${kinds || 'none'}; ${((times.at(-1) ?? 0) / 1000).toFixed(1)} s`)
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
  return {
    all: s(times.at(-1) ?? 0),
    median: s(times[Math.floor(times.length / 2)] ?? 0),
    bodies: after.bodies - before.bodies,
    others: after.others - before.others,
    builds: after.builds - before.builds,
    cpCpu: `${cpCpu.toFixed(2)} s (${(cpCpu - idleRate * elapsed).toFixed(2)} s)`,
    retries: fetched.reduce((n, f) => n + f.retries, 0),
    nginxCpu: nginxCpu === undefined ? '-' : `${nginxCpu.toFixed(2)} s`,
  }
}

// Last: the functions and module state above are all defined by now.
if (values.client !== undefined) {
  await runClients(JSON.parse(values.client) as Parameters<typeof runClients>[0])
} else {
  await main()
}
