/**
 * What the nodes' early heartbeat costs (`bench/sync.bench.ts --confirm-ab`). After applying changes or
 * a snapshot, a node heartbeats at once (at most once a second: node/sync-client.ts `confirmEarly`) so
 * the console can confirm a decision once every node has its revision. With a fleet, every decision
 * then brings one heartbeat a node to the control plane. This runs the same fleet with early heartbeats
 * on and off, rounds interleaved (on off on off) on one control plane, and reports for each: decision
 * to every node (p50, p99), heartbeats a second the control plane receives in the window after a
 * decision, and the control plane's CPU per decision.
 *
 * The control plane runs in a process of its own (bench/sync-fleet.ts's `--role control-plane`, which
 * counts the heartbeats it answers); the nodes are real SyncClients (node/sync-client.ts, the code a
 * node runs) in `--processes` client processes, each with its own index and cache folder. A node has a
 * decision when its index has applied the change (the holder's listener, not a poll).
 *
 * Per decision: the control plane's CPU time and answered heartbeats are read just before the PATCH and
 * `windowMs` after it (every node has the change well within that); the decision's CPU is that
 * window's CPU less the round's idle rate (measured with the fleet connected, periodic heartbeats
 * included) over the window. Decisions are spaced `windowMs` plus 0.5–1 s, so each gets its own early
 * heartbeats (they are at most one a second a node).
 *
 * This file is also the entry point of the client processes (`--role confirm-clients`).
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { child, nextMessage, send, type CpStats } from './sync-fleet.js'
import { quantile } from './stats.js'

/** What the driver is asked to run. */
export interface ConfirmOptions {
  /** Fleet sizes, each measured on a control plane of its own. */
  fleets: number[]
  processes: number
  /** Rounds a fleet size: on, off, on, off... */
  rounds: number
  /** Decisions a round. */
  decisions: number
  windowMs: number
  idleSeconds: number
  waitSeconds: number
  heartbeatMs: number
  rampSeconds: number
}

const clock = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const SCRIPT = fileURLToPath(import.meta.url)

interface ClientsStart {
  type: 'start'
  base: string
  hashKey: string
  hashKeyId: string
  keys: string[]
  firstId: number
  confirmEarly: boolean
  waitSeconds: number
  heartbeatMs: number
  rampMs: number
  cacheRoot: string
}

type ClientsMessage = { type: 'got'; rev: number; times: number[] } | { type: 'stopped' }

// ---------------------------------------------------------------------------------------------
// Child: real sync clients.

async function runClients(): Promise<void> {
  // Imported here: the driver needs none of the node.
  const { SyncClient } = await import('../node/sync-client.js')
  const { IndexHolder } = await import('../node/verdict.js')
  const { NodeCounters } = await import('../node/metrics.js')
  const { createLogger } = await import('../lib/logger.js')
  const start = await nextMessage<ClientsStart>(process)
  process.on('disconnect', () => process.exit(1))
  const logger = createLogger('error', 'bench-node')
  const n = start.keys.length
  const got = new Map<number, number[]>()
  /** Each node's last revision: a change batch may carry several (it does not here: decisions are spaced). */
  const last: number[] = new Array<number>(n).fill(-1)
  const reached = (i: number, revision: number, at: number): void => {
    const from = last[i] ?? -1
    last[i] = Math.max(from, revision)
    // The revisions a node had when it joined are not decisions: only those after are stamped.
    if (from < 0) return
    for (let rev = from + 1; rev <= revision; rev++) {
      const times = got.get(rev) ?? []
      times.push(at)
      got.set(rev, times)
      if (times.length === n) {
        got.delete(rev)
        send({ type: 'got', rev, times } satisfies ClientsMessage)
      }
    }
  }
  const clients: InstanceType<typeof SyncClient>[] = []
  for (const [i, key] of start.keys.entries()) {
    // Spread over the ramp, as a fleet's nodes start.
    await sleep(start.rampMs / n)
    const holder = new IndexHolder()
    holder.listener = {
      swapped: (index) => reached(i, index.revision, clock()),
      changed: (_changes, revision) => reached(i, revision, clock()),
    }
    const client = new SyncClient({
      controlPlane: start.base, nodeKey: key, nodeId: `fleet-${start.firstId + i}`, hashKeyId: start.hashKeyId, version: 'bench',
      cacheDir: join(start.cacheRoot, `node-${start.firstId + i}`), waitSeconds: start.waitSeconds, heartbeatMs: start.heartbeatMs,
      confirmEarly: start.confirmEarly,
      // The nodes share this machine's one disk; journal writes are pushed past the round.
      persistDebounceMs: 600_000,
      indexOptions: { hashKey: Buffer.from(start.hashKey, 'hex') }, holder, counters: new NodeCounters(), logger,
    })
    client.start()
    clients.push(client)
  }
  await nextMessage<{ type: 'stop' }>(process, 'stop')
  await Promise.all(clients.map((c) => c.stop()))
  send({ type: 'stopped' } satisfies ClientsMessage)
  process.disconnect()
}

// ---------------------------------------------------------------------------------------------
// Driver.

interface Decision { each: number[]; last: number; heartbeats: number; heartbeatsPerSecond: number; windowCpuMs: number; cpuMs: number }
interface Round { confirmEarly: boolean; idleCpuRate: number; idleHeartbeatsPerSecond: number; decisions: Decision[] }

/** One fleet size: a control plane, then the rounds, alternating. */
async function runFleetSize(nodes: number, o: ConfirmOptions): Promise<Round[]> {
  const { generateKey } = await import('../control-plane/store/keys.js')
  const root = mkdtempSync(join(tmpdir(), 'leakgate-sync-confirm-'))
  const adminKey = generateKey()
  const nodeKeys = Array.from({ length: nodes }, () => generateKey())
  const hashKey = randomBytes(32).toString('hex')
  const cp = child('control-plane', 4 * nodes + 1024)
  const listening = nextMessage<{ type: 'listening'; port: number; hashKeyId: string }>(cp, 'listening')
  cp.send({ type: 'start', dataDir: join(root, 'cp'), hashKey, adminKey, nodeKeys })
  const { port, hashKeyId } = await listening
  const base = `http://127.0.0.1:${port}`
  const stats = async (): Promise<CpStats> => {
    const answer = nextMessage<CpStats>(cp, 'stats')
    cp.send({ type: 'stats', gc: false })
    return answer
  }
  const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const created = (await (await fetch(`${base}/v1/leaks`, { method: 'POST', headers: admin, body: JSON.stringify({ tokens: [{ value: 'sk_live_bench_0123456789abcdefghijkl' }], action: 'monitor' }) })).json()) as { id: number }
  let action: 'block' | 'monitor' = 'monitor'
  const rounds: Round[] = []

  for (let r = 0; r < o.rounds; r++) {
    const confirmEarly = r % 2 === 0
    const perProcess = Math.ceil(nodes / o.processes)
    const clients: ChildProcess[] = []
    const arrivals = new Map<number, number[]>()
    const reported = new Map<number, number>()
    for (let p = 0; p * perProcess < nodes; p++) {
      const keys = nodeKeys.slice(p * perProcess, (p + 1) * perProcess)
      const c = child('confirm-clients', 4 * keys.length + 1024, [], SCRIPT)
      c.on('message', (m: ClientsMessage) => {
        if (m.type !== 'got') return
        arrivals.set(m.rev, [...(arrivals.get(m.rev) ?? []), ...m.times])
        reported.set(m.rev, (reported.get(m.rev) ?? 0) + 1)
      })
      c.send({
        type: 'start', base, hashKey, hashKeyId, keys, firstId: p * perProcess, confirmEarly, waitSeconds: o.waitSeconds,
        heartbeatMs: o.heartbeatMs, rampMs: o.rampSeconds * 1000, cacheRoot: join(root, `round-${r}`),
      } satisfies ClientsStart)
      clients.push(c)
    }
    const connectStart = clock()
    while ((await stats()).waiting < nodes) {
      if (clock() - connectStart > 300_000) throw new Error(`not every node holds a long poll after 300 s (round ${r})`)
      await sleep(200)
    }
    const decide = async (): Promise<{ t0: number; each: number[] }> => {
      action = action === 'block' ? 'monitor' : 'block'
      const t0 = clock()
      const res = await fetch(`${base}/v1/leaks/${created.id}`, { method: 'PATCH', headers: admin, body: JSON.stringify({ action }) })
      if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`)
      // The revision the decision committed: a node at or past it enforces it.
      const wanted = ((await res.json()) as { revision: number }).revision
      const deadline = clock() + 60_000
      while ((reported.get(wanted) ?? 0) < clients.length) {
        if (clock() > deadline) throw new Error(`revision ${wanted}: ${arrivals.get(wanted)?.length ?? 0} of ${nodes} nodes had it after 60 s`)
        await sleep(2)
      }
      return { t0, each: (arrivals.get(wanted) ?? []).map((t) => t - t0) }
    }
    // Warm-up, and the heartbeats of joining (each node's first, and its snapshot's early one) settle.
    for (let i = 0; i < 2; i++) {
      await decide()
      await sleep(o.windowMs + 1000)
    }
    const idleA = await stats()
    await sleep(o.idleSeconds * 1000)
    const idleB = await stats()
    const idleWall = idleB.at - idleA.atAfter
    const round: Round = {
      confirmEarly,
      idleCpuRate: (idleB.cpuMicros - idleA.cpuAfterMicros) / 1000 / idleWall,
      idleHeartbeatsPerSecond: ((idleB.heartbeats - idleA.heartbeats) * 1000) / idleWall,
      decisions: [],
    }
    for (let i = 0; i < o.decisions; i++) {
      const before = await stats()
      const { t0, each } = await decide()
      await sleep(Math.max(0, t0 + o.windowMs - clock()))
      const after = await stats()
      const wall = after.at - before.atAfter
      round.decisions.push({
        each,
        last: Math.max(...each),
        heartbeats: after.heartbeats - before.heartbeats,
        heartbeatsPerSecond: ((after.heartbeats - before.heartbeats) * 1000) / wall,
        windowCpuMs: (after.cpuMicros - before.cpuAfterMicros) / 1000,
        cpuMs: (after.cpuMicros - before.cpuAfterMicros) / 1000 - round.idleCpuRate * wall,
      })
      await sleep(500 + Math.random() * 500)
    }
    rounds.push(round)
    for (const c of clients) c.send({ type: 'stop' })
    await Promise.all(clients.map((c) => new Promise((resolve) => c.once('exit', resolve))))
  }
  cp.send({ type: 'close' })
  await new Promise((r) => cp.once('exit', r))
  rmSync(root, { recursive: true, force: true })
  return rounds
}

const ms = (x: number): string => `${x.toFixed(1)} ms`
const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5)

/** Runs the on/off comparison for each fleet size and prints its tables. */
export async function runConfirmAB(o: ConfirmOptions): Promise<void> {
  const lines: string[] = []
  lines.push(`Early heartbeat on and off: ${o.rounds} rounds a fleet size (on, off, ...), ${o.decisions} decisions a round, window ${o.windowMs} ms from each PATCH; ` +
    `real SyncClients over ${o.processes} client processes (long-poll wait ${o.waitSeconds} s, heartbeat every ${o.heartbeatMs / 1000} s), control plane in its own process. ` +
    'Medians over decisions unless said; CPU = the control plane\'s user + system time.', '')
  lines.push('| nodes | early heartbeat | every node p50 | every node p99 | each node p50 | heartbeats in the window | heartbeats/s in the window | idle heartbeats/s | CP CPU in the window | CP CPU per decision, less idle |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  const perRound: string[] = []
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a')
  for (const nodes of o.fleets) {
    const rounds = await runFleetSize(nodes, o)
    const arms = new Map<boolean, Decision[]>()
    const idleHb = new Map<boolean, number[]>()
    for (const round of rounds) {
      arms.set(round.confirmEarly, [...(arms.get(round.confirmEarly) ?? []), ...round.decisions])
      idleHb.set(round.confirmEarly, [...(idleHb.get(round.confirmEarly) ?? []), round.idleHeartbeatsPerSecond])
      const d = round.decisions
      perRound.push(`${nodes} nodes, early ${round.confirmEarly ? 'on' : 'off'}: every node p50 ${ms(median(d.map((x) => x.last)))}, ` +
        `${median(d.map((x) => x.heartbeats))} heartbeats in the window, CP CPU ${ms(median(d.map((x) => x.windowCpuMs)))} in the window ` +
        `(${ms(median(d.map((x) => x.cpuMs)))} less idle), idle ${round.idleHeartbeatsPerSecond.toFixed(1)} heartbeats/s and ${(round.idleCpuRate * 100).toFixed(1)} % of a core`)
    }
    const summary = new Map<boolean, { last: number; hb: number; hbs: number; win: number; cpu: number }>()
    for (const on of [true, false]) {
      const d = arms.get(on)
      if (d === undefined) continue
      const last = d.map((x) => x.last).sort((a, b) => a - b)
      const each = d.flatMap((x) => x.each).sort((a, b) => a - b)
      const row = { last: median(last), hb: median(d.map((x) => x.heartbeats)), hbs: median(d.map((x) => x.heartbeatsPerSecond)), win: median(d.map((x) => x.windowCpuMs)), cpu: median(d.map((x) => x.cpuMs)) }
      summary.set(on, row)
      lines.push(`| ${nodes} | ${on ? 'on' : 'off'} | ${ms(row.last)} | ${ms(quantile(last, 0.99))} | ${ms(quantile(each, 0.5))} | ${row.hb} | ${row.hbs.toFixed(1)} | ${median(idleHb.get(on) ?? []).toFixed(1)} | ${ms(row.win)} | ${ms(row.cpu)} |`)
    }
    const on = summary.get(true)
    const off = summary.get(false)
    if (on !== undefined && off !== undefined) {
      lines.push(`| ${nodes} | on / off | ${ratio(on.last, off.last)} | | | ${ratio(on.hb, off.hb)} | ${ratio(on.hbs, off.hbs)} | | ${ratio(on.win, off.win)} | ${ratio(on.cpu, off.cpu)} |`)
      lines.push(`| ${nodes} | on − off | ${ms(on.last - off.last)} | | | ${on.hb - off.hb} | ${(on.hbs - off.hbs).toFixed(1)} | | ${ms(on.win - off.win)} | ${ms(on.cpu - off.cpu)} |`)
    }
  }
  lines.push('', 'Each round, in the order run (medians of its decisions):', '', ...perRound.map((l) => `- ${l}`))
  console.log(lines.join('\n'))
}

const { values } = parseArgs({ options: { role: { type: 'string' } }, strict: false })
if (values.role === 'confirm-clients') await runClients()
