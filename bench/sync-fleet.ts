/**
 * The fleet part of the sync benchmark (`bench/sync.bench.ts --nodes N`): a control plane in a process
 * of its own, and N simulated nodes spread over several client processes, so that neither the client
 * side nor the bench's own bookkeeping shares the control plane's event loop.
 *
 * A simulated node does on the wire what node/sync-client.ts does: fetches the snapshot, then long-polls
 * `GET /v1/sync/changes?since=&wait=` with its own node key and the hash key id header, through an undici
 * Agent of its own (as each real node has), and heartbeats every `heartbeatMs` with a random phase (a
 * real fleet's nodes did not all start in the same millisecond). It keeps no index: it stamps the time
 * each change arrives (performance.timeOrigin + performance.now(), one clock for every process on the
 * machine) and reports it to the driver.
 *
 * The driver measures the control plane's RSS, heap and CPU time idle with no node, idle with N nodes
 * connected (over a full long-poll cycle), and during decisions; then, for each decision, the time
 * from sending the PATCH until every node has the change.
 *
 * This file is also the entry point of the child processes: `--role control-plane` and `--role clients`.
 * `FLEET_DEBUG=1` prints the connecting fleet and the clients' errors as they come; `FLEET_CP_NODE_ARGS`
 * passes Node flags to the control plane's process (`--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { isChangesFrame } from '../protocol/changes.js'
import { HASH_KEY_ID_HEADER } from '../protocol/token-hash.js'
import { quantile } from './stats.js'

/** What the driver is asked to run. */
export interface FleetOptions {
  nodes: number
  processes: number
  decisions: number
  /** Pause between one decision reaching every node and the next decision (plus up to as much again, random). */
  spacingMs: number
  /** How long each idle window (no node, then all nodes connected) is sampled. */
  idleSeconds: number
  waitSeconds: number
  heartbeatMs: number
  /** Nodes are started over this long. */
  rampSeconds: number
}

/** One clock for every process on the machine, in milliseconds with sub-millisecond resolution. */
const clock = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface CpStats {
  type: 'stats'
  rss: number
  heapUsed: number
  /** User + system CPU time of the control plane's process, in microseconds, before the collection (if any). */
  cpuMicros: number
  /** The same after it. */
  cpuAfterMicros: number
  waiting: number
  /** Connections the server closed on arrival, being at `maxConnections` (its 'drop' events). */
  dropped: number
  at: number
  atAfter: number
  /** Heartbeats the control plane has answered so far. */
  heartbeats: number
}

type CpMessage = { type: 'listening'; port: number; hashKeyId: string } | CpStats
type ClientsMessage =
  | { type: 'got'; rev: number; times: number[] }
  | { type: 'progress'; errors: number; firstError: string | undefined }
  | { type: 'stopped'; errors: number; kinds: Record<string, number>; cpuMicros: number; elapsedMs: number; firstError: string | undefined }

// ---------------------------------------------------------------------------------------------
// Child: the control plane.

async function runControlPlane(): Promise<void> {
  // Imported here, not at the top: the client processes need none of the control plane (and start faster).
  const { buildControlPlane } = await import('../control-plane/app.js')
  const { defaultControlPlaneConfig } = await import('../control-plane/config.js')
  const start = await nextMessage<{ type: 'start'; dataDir: string; hashKey: string; adminKey: string; nodeKeys: string[] }>(process)
  const n = start.nodeKeys.length
  const app = await buildControlPlane(defaultControlPlaneConfig({
    dataDir: start.dataDir, logLevel: 'warn', hashKey: start.hashKey,
    // The defaults (1,000 nodes, 5,000 connections) are what is measured up to 1,000 nodes; past that
    // the caps grow with the fleet as an operator would set them (a node holds two to three connections).
    maxNodes: Math.max(1000, n), maxConnections: Math.max(5000, 4 * n + 100),
  }))
  const { store, sync } = app.leakgate
  // One transaction: a thousand keys added one by one would be a thousand fsyncs before the bench starts.
  await store.write(async () => {
    await store.keys.add(start.adminKey, 'admin')
    for (const key of start.nodeKeys) await store.keys.add(key, 'node')
  })
  let dropped = 0
  app.server.on('drop', () => dropped++)
  let heartbeats = 0
  app.addHook('onResponse', async (request) => {
    if (request.routeOptions.url === '/v1/nodes/heartbeat') heartbeats++
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  // Orphaned by a driver that failed: go too.
  process.on('disconnect', () => process.exit(1))
  send({ type: 'listening', port: (app.server.address() as AddressInfo).port, hashKeyId: store.hashes.keyId ?? '' })
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const at = clock()
      const cpu = process.cpuUsage()
      // A full collection when asked, so the heap figure is what is live, not what awaits collection;
      // its own CPU time is left out of the windows (cpuAfterMicros starts the next one).
      if ((m as { gc?: boolean }).gc === true) globalThis.gc?.()
      const after = process.cpuUsage()
      const mem = process.memoryUsage()
      send({
        type: 'stats', rss: mem.rss, heapUsed: mem.heapUsed, cpuMicros: cpu.user + cpu.system, cpuAfterMicros: after.user + after.system,
        waiting: sync.waiting, dropped, at, atAfter: clock(), heartbeats,
      } satisfies CpStats)
    } else if (m.type === 'close') {
      void app.close().then(() => process.exit(0))
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Child: simulated nodes.

interface ClientsStart {
  type: 'start'
  base: string
  hashKeyId: string
  keys: string[]
  firstId: number
  waitSeconds: number
  heartbeatMs: number
  rampMs: number
}

async function runClients(): Promise<void> {
  const start = await nextMessage<ClientsStart>(process)
  const started = clock()
  const cpu0 = process.cpuUsage()
  // One controller a node: a signal shared by hundreds of requests would collect hundreds of listeners.
  const aborts: AbortController[] = []
  let stopped = false
  let errors = 0
  let firstError: string | undefined
  const kinds: Record<string, number> = {}
  const got = new Map<number, number[]>()
  const n = start.keys.length
  const failed = (err: unknown): void => {
    errors++
    firstError ??= (err as Error).message
    const kind = (err as { code?: string }).code ?? (err as Error).message.slice(0, 40)
    kinds[kind] = (kinds[kind] ?? 0) + 1
  }

  const node = async (key: string, id: string): Promise<void> => {
    // As node/sync-client.ts: a long poll may be held `wait` seconds; allow for it before calling the server dead.
    const timeout = (start.waitSeconds + 15) * 1000
    const agent = new Agent({ connections: 2, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 60_000 })
    const abort = new AbortController()
    aborts.push(abort)
    const headers = { authorization: `Bearer ${key}`, [HASH_KEY_ID_HEADER]: start.hashKeyId }
    let revision = 0
    const heartbeat = async (): Promise<void> => {
      try {
        const res = await request(`${start.base}/v1/nodes/heartbeat`, {
          method: 'POST', dispatcher: agent, signal: abort.signal,
          headers: { authorization: headers.authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ nodeId: id, version: 'bench', revision, indexEntries: 1, syncAgeSeconds: 0 }),
        })
        await res.body.dump()
        if (res.statusCode !== 204) throw new Error(`heartbeat answered ${res.statusCode}`)
      } catch (err) {
        if (!stopped) failed(err)
      }
    }
    let beat: NodeJS.Timeout | undefined
    const phase = setTimeout(() => {
      beat = setInterval(() => void heartbeat(), start.heartbeatMs)
    }, Math.random() * start.heartbeatMs)
    void heartbeat()
    let attempt = 0
    while (!stopped) {
      try {
        if (revision === 0) {
          const res = await request(`${start.base}/v1/sync/snapshot`, { method: 'GET', dispatcher: agent, headers, signal: abort.signal })
          await res.body.dump()
          if (res.statusCode !== 200) throw new Error(`snapshot answered ${res.statusCode}`)
          revision = Number(res.headers['leakgate-revision'])
          continue
        }
        const res = await request(`${start.base}/v1/sync/changes?since=${revision}&wait=${start.waitSeconds}`, {
          method: 'GET', dispatcher: agent, headers: { ...headers, accept: 'application/json' }, signal: abort.signal,
        })
        if (res.statusCode !== 200) {
          await res.body.dump()
          throw new Error(`changes answered ${res.statusCode}`)
        }
        const text = await res.body.text()
        const at = clock()
        const body: unknown = JSON.parse(text)
        if (!isChangesFrame(body)) throw new Error('changes answer lacks revision or changes')
        for (const change of body.changes as { rev: number }[]) {
          const times = got.get(change.rev) ?? []
          times.push(at)
          got.set(change.rev, times)
          if (times.length === n) {
            got.delete(change.rev)
            send({ type: 'got', rev: change.rev, times } satisfies ClientsMessage)
          }
        }
        revision = body.revision
        attempt = 0
      } catch (err) {
        if (stopped) break
        failed(err)
        // node/sync-client.ts's backoff: exponential, capped, jittered in its upper half.
        const base = Math.min(30_000, 250 * 2 ** Math.min(attempt++, 20))
        await sleep(base / 2 + Math.random() * (base / 2))
      }
    }
    clearTimeout(phase)
    clearInterval(beat)
    await agent.destroy()
  }

  // Orphaned by a driver that failed: go too.
  process.on('disconnect', () => process.exit(1))
  const progress = setInterval(() => send({ type: 'progress', errors, firstError } satisfies ClientsMessage), 5000)
  const running: Promise<void>[] = []
  for (const [i, key] of start.keys.entries()) {
    // Spread over the ramp: a thousand nodes connecting in one instant overflow the listen backlog
    // (connect timeouts, resets) and say nothing about sync; nodes back off with jitter after that.
    await sleep(start.rampMs / n)
    running.push(node(key, `fleet-${start.firstId + i}`))
  }
  const stop = await nextMessage<{ type: 'stop' }>(process)
  void stop
  stopped = true
  clearInterval(progress)
  for (const abort of aborts) abort.abort()
  await Promise.all(running)
  const cpu = process.cpuUsage(cpu0)
  send({ type: 'stopped', errors, kinds, cpuMicros: cpu.user + cpu.system, elapsedMs: clock() - started, firstError } satisfies ClientsMessage)
  process.disconnect()
}

// ---------------------------------------------------------------------------------------------
// Driver.

const ms = (x: number): string => `${x.toFixed(1)} ms`
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/**
 * Starts a child process running `script` (this file by default) in `role`, its soft open-file limit raised to `files` (a
 * shell's `ulimit -S -n`, since Node cannot set it): 1,000 sockets do not fit the common default of 1,024.
 */
export function child(role: string, files: number, extraNodeArgs: string[] = [], script = fileURLToPath(import.meta.url)): ChildProcess {
  const raise = `ulimit -S -n ${files} 2>/dev/null || echo "sync bench: cannot raise the open-file limit to ${files} (hard limit $(ulimit -H -n)); ${role} may fail with EMFILE: raise ulimit -n" >&2`
  return spawn('/bin/sh', ['-c', `${raise}; exec "$0" "$@"`, process.execPath, ...process.execArgv, ...extraNodeArgs, script, '--role', role], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
}

export function send(message: unknown): void {
  // A driver gone (it failed) takes its children with it (the 'disconnect' handlers): nothing to report to.
  if (process.connected) process.send?.(message)
}

export function nextMessage<T extends { type: string }>(from: NodeJS.Process | ChildProcess, type?: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T): void => {
      if (type !== undefined && m.type !== type) return
      from.off('message', onMessage)
      from.off('exit', onExit)
      resolve(m)
    }
    const onExit = (code: number | null): void => reject(new Error(`child exited (${code}) before answering`))
    from.on('message', onMessage)
    from.once('exit', onExit)
  })
}

/** Runs the fleet measurement and prints its tables. */
export async function runFleet(o: FleetOptions): Promise<void> {
  const { generateKey } = await import('../control-plane/store/keys.js')
  const root = mkdtempSync(join(tmpdir(), 'leakgate-sync-fleet-'))
  const adminKey = generateKey()
  const nodeKeys = Array.from({ length: o.nodes }, () => generateKey())
  const hashKey = randomBytes(32).toString('hex')
  const files = 4 * o.nodes + 1024
  const cp = child('control-plane', files, ['--expose-gc', ...(process.env.FLEET_CP_NODE_ARGS?.split(' ') ?? [])])
  const listening = nextMessage<Extract<CpMessage, { type: 'listening' }>>(cp, 'listening')
  cp.send({ type: 'start', dataDir: join(root, 'cp'), hashKey, adminKey, nodeKeys })
  const { port, hashKeyId } = await listening
  const base = `http://127.0.0.1:${port}`
  const stats = async (gc = true): Promise<CpStats> => {
    const answer = nextMessage<CpStats>(cp, 'stats')
    cp.send({ type: 'stats', gc })
    return answer
  }
  const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const TOKEN = 'sk_live_bench_0123456789abcdefghijkl'
  const created = (await (await fetch(`${base}/v1/leaks`, { method: 'POST', headers: admin, body: JSON.stringify({ tokens: [{ value: TOKEN }], action: 'monitor' }) })).json()) as { id: number }

  // Idle, no node.
  await sleep(2000)
  const idle0a = await stats()
  await sleep(o.idleSeconds * 1000)
  const idle0b = await stats()

  // Connect the fleet.
  const perProcess = Math.ceil(o.nodes / o.processes)
  const clients: ChildProcess[] = []
  const arrivals = new Map<number, number[]>()
  const reported = new Map<number, number>()
  const stopped: Extract<ClientsMessage, { type: 'stopped' }>[] = []
  const progressErrors: number[] = []
  const connectStart = clock()
  for (let p = 0; p * perProcess < o.nodes; p++) {
    const keys = nodeKeys.slice(p * perProcess, (p + 1) * perProcess)
    const c = child('clients', 2 * keys.length + 1024)
    c.on('message', (m: ClientsMessage) => {
      if (m.type === 'got') {
        arrivals.set(m.rev, [...(arrivals.get(m.rev) ?? []), ...m.times])
        reported.set(m.rev, (reported.get(m.rev) ?? 0) + 1)
      } else if (m.type === 'progress') {
        progressErrors[p] = m.errors
        if (process.env.FLEET_DEBUG !== undefined && m.errors > 0) console.error(`client process ${p}: ${m.errors} errors (first: ${m.firstError})`)
      } else if (m.type === 'stopped') {
        stopped.push(m)
      }
    })
    c.send({ type: 'start', base, hashKeyId, keys, firstId: p * perProcess, waitSeconds: o.waitSeconds, heartbeatMs: o.heartbeatMs, rampMs: o.rampSeconds * 1000 } satisfies ClientsStart)
    clients.push(c)
  }
  for (;;) {
    const s = await stats(false)
    if (s.waiting >= o.nodes) break
    if (process.env.FLEET_DEBUG) console.error(`waiting ${s.waiting} at ${((clock() - connectStart) / 1000).toFixed(1)} s`)
    if (clock() - connectStart > 300_000) throw new Error(`only ${s.waiting} of ${o.nodes} nodes hold a long poll after 300 s`)
    await sleep(200)
  }
  const connectMs = clock() - connectStart
  // Errors reported until then (every 5 s, so up to 5 s of them may count as after).
  const errorsConnecting = progressErrors.reduce((a, b) => a + b, 0)

  let action: 'block' | 'monitor' = 'monitor'
  const revision0 = Number((await fetch(`${base}/v1/sync/snapshot`, { headers: { authorization: `Bearer ${adminKey}`, [HASH_KEY_ID_HEADER]: hashKeyId } }).then(async (r) => {
    await r.arrayBuffer()
    return r.headers.get('leakgate-revision')
  })))
  let expected = revision0
  /** One decision: PATCH, then the time until every node has its change. */
  const decide = async (): Promise<{ patchMs: number; each: number[] }> => {
    action = action === 'block' ? 'monitor' : 'block'
    const rev = ++expected
    const t0 = clock()
    const res = await fetch(`${base}/v1/leaks/${created.id}`, { method: 'PATCH', headers: admin, body: JSON.stringify({ action }) })
    if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`)
    await res.arrayBuffer()
    const patchMs = clock() - t0
    const deadline = clock() + 60_000
    while ((reported.get(rev) ?? 0) < clients.length) {
      if (clock() > deadline) throw new Error(`decision at revision ${rev}: ${arrivals.get(rev)?.length ?? 0} of ${o.nodes} nodes had it after 60 s`)
      await sleep(2)
    }
    return { patchMs, each: (arrivals.get(rev) ?? []).map((t) => t - t0) }
  }

  // Warm-up, then the fleet idle over a whole long-poll cycle (each node re-polls every `wait` seconds).
  for (let i = 0; i < 3; i++) {
    await decide()
    await sleep(o.spacingMs)
  }
  const idleNa = await stats()
  await sleep(o.idleSeconds * 1000)
  const idleNb = await stats()

  const each: number[] = []
  const last: number[] = []
  const patch: number[] = []
  const busyA = await stats()
  let paused = 0
  for (let i = 0; i < o.decisions; i++) {
    const d = await decide()
    patch.push(d.patchMs)
    each.push(...d.each)
    last.push(Math.max(...d.each))
    const pause = o.spacingMs * (1 + Math.random())
    paused += pause
    await sleep(pause)
  }
  const busyB = await stats()

  for (const c of clients) c.send({ type: 'stop' })
  await Promise.all(clients.map((c) => new Promise((r) => c.once('exit', r))))
  cp.send({ type: 'close' })
  await new Promise((r) => cp.once('exit', r))
  rmSync(root, { recursive: true, force: true })

  const cpuRate = (a: CpStats, b: CpStats): number => (b.cpuMicros - a.cpuAfterMicros) / 1000 / (b.at - a.atAfter) // CPU ms per wall ms
  const idle0 = cpuRate(idle0a, idle0b)
  const idleN = cpuRate(idleNa, idleNb)
  const busyCpuMs = (busyB.cpuMicros - busyA.cpuAfterMicros) / 1000
  const busyWallMs = busyB.at - busyA.atAfter
  // CPU of the decisions themselves: what the busy window spent beyond the fleet's idle rate.
  const perDecisionCpuMs = (busyCpuMs - idleN * busyWallMs) / o.decisions
  const clientCpu = stopped.reduce((s, m) => s + m.cpuMicros / 1000 / m.elapsedMs, 0)
  const clientErrors = stopped.reduce((s, m) => s + m.errors, 0)
  const errorsConnected = clientErrors - errorsConnecting
  const kinds: Record<string, number> = {}
  for (const m of stopped) for (const [k, v] of Object.entries(m.kinds)) kinds[k] = (kinds[k] ?? 0) + v
  const kindList = Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
  each.sort((a, b) => a - b)
  last.sort((a, b) => a - b)
  patch.sort((a, b) => a - b)

  const lines: string[] = []
  lines.push(`${o.nodes} nodes over ${clients.length} client processes (long-poll wait ${o.waitSeconds} s, heartbeat every ${o.heartbeatMs / 1000} s); ${o.decisions} decisions spaced ${o.spacingMs}–${2 * o.spacingMs} ms; all nodes holding a poll ${(connectMs / 1000).toFixed(1)} s after the clients started.`, '')
  lines.push('| nodes | decisions | PATCH answered p50 | each node p50 | each node p99 | every node p50 | every node p99 | every node max |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |')
  lines.push(`| ${o.nodes} | ${o.decisions} | ${ms(quantile(patch, 0.5))} | ${ms(quantile(each, 0.5))} | ${ms(quantile(each, 0.99))} | ${ms(quantile(last, 0.5))} | ${ms(quantile(last, 0.99))} | ${ms(last.at(-1) ?? Number.NaN)} |`)
  lines.push('', 'Control plane process (RSS and heap after a full GC; CPU = user + system time over wall time):', '')
  lines.push('| state | RSS | heap used | CPU |')
  lines.push('| --- | --- | --- | --- |')
  lines.push(`| idle, 0 nodes | ${mb(idle0b.rss)} | ${mb(idle0b.heapUsed)} | ${(idle0 * 100).toFixed(2)} % of a core |`)
  lines.push(`| idle, ${o.nodes} nodes connected | ${mb(idleNb.rss)} | ${mb(idleNb.heapUsed)} | ${(idleN * 100).toFixed(2)} % of a core |`)
  lines.push(`| per connected node | ${((idleNb.rss - idle0b.rss) / o.nodes / 1024).toFixed(1)} KiB | ${((idleNb.heapUsed - idle0b.heapUsed) / o.nodes / 1024).toFixed(1)} KiB | ${(((idleN - idle0) * 1000) / o.nodes).toFixed(3)} ms CPU per s |`)
  lines.push(`| during decisions | ${mb(busyB.rss)} | ${mb(busyB.heapUsed)} | ${((busyCpuMs / busyWallMs) * 100).toFixed(1)} % of a core; ${perDecisionCpuMs.toFixed(0)} ms CPU per decision (${((perDecisionCpuMs * 1000) / o.nodes).toFixed(0)} µs per node) |`)
  lines.push('', `Client processes: ${(clientCpu * 100).toFixed(0)} % of a core in all (over the whole run); ${clientErrors} request errors${kindList === '' ? '' : ` (${kindList})`}, ${errorsConnected} of them once the fleet was connected; the server dropped ${busyB.dropped} connections at maxConnections (${idleNa.dropped} before the decisions). Idle windows ${o.idleSeconds} s; decisions window ${(busyWallMs / 1000).toFixed(0)} s (${(paused / 1000).toFixed(0)} s of it pauses).`)
  console.log(lines.join('\n'))
}

const { values } = parseArgs({ options: { role: { type: 'string' } }, strict: false })
if (values.role === 'control-plane') await runControlPlane()
else if (values.role === 'clients') await runClients()
