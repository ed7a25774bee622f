/**
 * The edge node against the proxies it is measured by, side by side in one run (the speed goal: bench/RESULTS.md):
 *   the origin direct; a bare @fastify/http-proxy; a plain node:http + undici proxy;
 *   the Leakgate node with 0, 1M and 10M leaked hashes, all-clean traffic and 1 % leaked.
 *
 *   node --import ./scripts/register-ts.js bench/proxy.bench.ts [--rounds 3] [--duration 5] [--connections 32] [--probe 3000]
 *                                [--sizes 0,1000000,10000000] [--only bare,1M]   (--only: names containing any)
 *                                [--ab 0] [--ab-requests 30000] [--nginx] [--wrk] [--compare DIR]
 *
 * `--nginx`: nginx (Debian's, one worker, keep-alive to the origin) as one more target.
 * `--wrk`: wrk (`-t2 -c<connections>`, a Lua script rotating the same clean tokens) drives the throughput
 * rounds instead of autocannon; CPU and latency are measured as without it.
 * `--compare DIR`: a second Leakgate node started from another checkout (DIR, with its node_modules) on the
 * same 1M index, named `leakgate (DIR's last path part)`, so two versions run side by side in one run.
 *
 * `--ab N`: after the table, N more interleaved rounds of a fixed number of requests each (not a fixed
 * time) against the bare proxy, node:http + undici and the node at 1M leaks (clean traffic), measuring
 * the main thread's CPU per request from /proc/PID/task/PID: the work of the JavaScript that handles a
 * request, without the GC and libuv helper threads, and the steadiest figure on a noisy machine.
 *
 * Every target runs in its own process; rounds interleave the targets (order reversed every other
 * round) and the figures are medians over rounds. Throughput: autocannon, saturated, `--connections`.
 * CPU per request: the target process's user + system time (from /proc) over the requests it served;
 * on a shared 2-core machine it is the steadiest measure of how much work a proxy does per request.
 * Latency: one connection, requests one after another (`--probe` of them), timed with hrtime, since
 * autocannon's histogram rounds to whole milliseconds. Clean traffic carries `Authorization: Bearer`
 * from a pool of 200 000 distinct tokens, more than the node's LRU holds, so most checks go to the index.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { sha256Hex } from '../protocol/token-hash.js'
import { LeakIndex } from '../node/leakdb/index.js'
import { compilePlan } from '../node/credentials.js'
import { DEFAULT_CREDENTIAL_PLACES } from '../node/config.js'
import { IndexHolder, judge } from '../node/verdict.js'
import { encodeSnapshot, type SnapshotEntry } from '../protocol/snapshot.js'
import { upperMedian } from './stats.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const SELF = fileURLToPath(import.meta.url)

// ---- child mode: the comparison proxies ------------------------------------------------------
async function serve(kind: string, upstream: string): Promise<void> {
  let port: number
  if (kind === 'bare') {
    const { default: Fastify } = await import('fastify')
    const { default: httpProxy } = await import('@fastify/http-proxy')
    const app = Fastify({ logger: false })
    await app.register(httpProxy, { upstream })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  } else {
    // The least a proxy can do: pass method, path, headers and body through one keep-alive pool.
    const pool = new Pool(upstream, { connections: 128, pipelining: 1 })
    const host = new URL(upstream).host
    const server = createServer((req, res) => {
      const headers: Record<string, string | string[] | undefined> = { ...req.headers, host, connection: undefined, 'transfer-encoding': undefined, 'keep-alive': undefined }
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
      pool.request({ path: req.url ?? '/', method: req.method as 'GET', headers, body: hasBody ? req : null }, (err, data) => {
        if (err) {
          res.writeHead(502).end()
          return
        }
        const out: Record<string, string | string[]> = {}
        for (const [k, v] of Object.entries(data.headers)) if (v !== undefined && k !== 'connection' && k !== 'transfer-encoding' && k !== 'keep-alive') out[k] = v
        res.writeHead(data.statusCode, out)
        data.body.pipe(res)
      })
    })
    server.keepAliveTimeout = 60_000
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  }
  console.log(JSON.stringify({ port }))
}

// ---- orchestrator ------------------------------------------------------------------------------
interface Target {
  name: string
  url: string
  leakedShare: number
  pid: number
}

interface Sample {
  rps: number
  cpuUs: number
  p50us: number
  p99us: number
}

const TICK_MS = 10 // Linux USER_HZ (getconf CLK_TCK = 100)

/** CPU time (user + system) a process (or, with `mainThread`, its main thread) has used, in ms. */
function cpuMs(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS // utime, stime: fields 14 and 15 of the line
}

function startChild(args: string[], ready: (line: string) => number | undefined, cwd = ROOT): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', ...args], { cwd, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let buf = ''
    let done = false
    child.stdout?.on('data', (d: Buffer) => {
      if (done) return // later lines (block logs) are read and dropped so the pipe never fills
      buf += d.toString()
      for (const line of buf.split('\n')) {
        const port = ready(line)
        if (port !== undefined) {
          done = true
          resolve({ child, port })
          return
        }
      }
    })
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${args.join(' ')} exited ${code}`))
    })
  })
}

function portLine(line: string): number | undefined {
  try {
    const j = JSON.parse(line) as { port?: number; proxy?: { port?: number } }
    return j.proxy?.port ?? j.port
  } catch {
    return undefined
  }
}

function* randomEntries(n: number, leaked: readonly string[]): Generator<SnapshotEntry> {
  for (let i = 0; i < leaked.length; i++) yield { sha256: sha256Hex(leaked[i] as string), action: i % 2 === 0 ? 'block' : 'monitor', leakId: i + 1 }
  const chunk = 1_000_000
  for (let start = leaked.length; start < n; start += chunk) {
    const count = Math.min(chunk, n - start)
    const digests = randomBytes(32 * count)
    for (let i = 0; i < count; i++) yield { sha256: digests.subarray(i * 32, i * 32 + 32) as unknown as string, action: 'block', leakId: start + i + 1 }
  }
}

/** A wrk Lua script sending the clean tokens in turn (and every 1/share-th request a leaked one). */
function wrkScript(dir: string, clean: readonly string[], leaked: readonly string[], share: number): string {
  const file = join(dir, `wrk-${share}.lua`)
  const list = (xs: readonly string[]): string => `{${xs.map((x) => JSON.stringify(x)).join(',')}}`
  const every = share > 0 ? Math.round(1 / share) : 0
  writeFileSync(file, `local clean = ${list(clean.slice(0, 20_000))}
local leaked = ${list(leaked)}
local i = math.random(1, #clean)
request = function()
  i = i + 1
  local token = clean[(i % #clean) + 1]
  if ${every} > 0 and i % ${every || 1} == 0 then token = leaked[(i % #leaked) + 1] end
  return wrk.format("GET", "/v1/items/42?page=2", { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json" })
end
`)
  return file
}

/** Runs wrk against `url` for `seconds`; requests/s as wrk reports it, and the requests done. */
function runWrk(url: string, script: string, seconds: number, connections: number): Promise<{ rps: number; total: number }> {
  return new Promise((done, fail) => {
    execFile('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', script, url], (err, stdout) => {
      if (err) return fail(err)
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN)
      const total = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN)
      if (!Number.isFinite(rps)) return fail(new Error(`wrk said: ${stdout}`))
      done({ rps, total })
    })
  })
}

let wrkDir: string | undefined

async function throughput(target: Target, clean: readonly string[], leaked: readonly string[], seconds: number, connections: number): Promise<{ rps: number; cpuUs: number }> {
  const cpu0 = cpuMs(target.pid)
  if (wrkDir !== undefined) {
    const { rps, total } = await runWrk(target.url, wrkScript(wrkDir, clean, leaked, target.leakedShare), seconds, connections)
    return { rps, cpuUs: ((cpuMs(target.pid) - cpu0) * 1000) / Math.max(1, total) }
  }
  let i = Math.floor(Math.random() * clean.length)
  const every = target.leakedShare > 0 ? Math.round(1 / target.leakedShare) : 0
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    requests: [{
      setupRequest: (req) => {
        i++
        const token = every > 0 && i % every === 0 ? leaked[i % leaked.length] : clean[i % clean.length]
        return { ...req, path: '/v1/items/42?page=2', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }
      },
    }],
  })
  if (result.non2xx > 0 && target.leakedShare === 0) throw new Error(`${target.name}: ${result.non2xx} non-2xx answers on clean traffic`)
  const cpuUs = ((cpuMs(target.pid) - cpu0) * 1000) / Math.max(1, result.requests.total)
  return { rps: result.requests.average, cpuUs }
}

async function latency(target: Target, clean: readonly string[], n: number): Promise<{ p50us: number; p99us: number }> {
  const pool = new Pool(target.url, { connections: 1 })
  const times: number[] = []
  try {
    for (let i = 0; i < n + 200; i++) {
      const t0 = process.hrtime.bigint()
      const res = await pool.request({ path: '/v1/items/42?page=2', method: 'GET', headers: { authorization: `Bearer ${clean[(i * 7919) % clean.length]}` } })
      await res.body.dump()
      if (i >= 200) times.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
  } finally {
    await pool.close()
  }
  times.sort((a, b) => a - b)
  return { p50us: times[Math.floor(n * 0.5)] as number, p99us: times[Math.floor(n * 0.99)] as number }
}

/** The node's own work on a request (extract, hash, LRU, bloom, exact), in process: ns per request. */
function checkCost(snapshot: Buffer, pool: readonly string[]): number {
  const holder = new IndexHolder(LeakIndex.fromSnapshot(snapshot))
  const plan = compilePlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 64, maxCredentialLength: 8192 })
  const headers = pool.map((t) => ({ host: 'api.example.com', authorization: `Bearer ${t}`, accept: 'application/json', 'user-agent': 'bench' }))
  const per: number[] = []
  for (let r = 0; r < 7; r++) {
    const n = 200_000
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) judge(plan, holder, headers[(r * n + i) % headers.length] as Record<string, string>, '/v1/items/42?page=2')
    per.push(Number(process.hrtime.bigint() - t0) / n)
  }
  return upperMedian(per)
}

/** Fixed-count runs, interleaved (order reversed every other round): main-thread and process CPU a request. */
async function mainThreadAB(targets: readonly Target[], clean: readonly string[], rounds: number, amount: number, connections: number): Promise<void> {
  const main = new Map<string, number[]>(targets.map((t) => [t.name, []]))
  const whole = new Map<string, number[]>(targets.map((t) => [t.name, []]))
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const m0 = cpuMs(t.pid, true)
      const p0 = cpuMs(t.pid)
      let i = Math.floor(Math.random() * clean.length)
      const result = await autocannon({
        url: t.url,
        connections,
        amount,
        requests: [{ setupRequest: (req) => ({ ...req, path: '/v1/items/42?page=2', headers: { authorization: `Bearer ${clean[i++ % clean.length]}`, accept: 'application/json' } }) }],
      })
      const n = Math.max(1, result.requests.total)
      main.get(t.name)?.push(((cpuMs(t.pid, true) - m0) * 1000) / n)
      whole.get(t.name)?.push(((cpuMs(t.pid) - p0) * 1000) / n)
      console.error(`A/B round ${r + 1} ${t.name}: main thread ${main.get(t.name)?.at(-1)?.toFixed(1)} µs/req, process ${whole.get(t.name)?.at(-1)?.toFixed(1)} µs/req`)
    }
  }
  const bare = upperMedian(main.get('bare @fastify/http-proxy') ?? [])
  const out = [`\nMain-thread CPU a request, ${rounds} interleaved rounds of ${amount} requests at ${connections} connections:`, '', '| target | main thread µs/req (median) | range | bare ÷ this | process µs/req (median) |', '| --- | ---: | ---: | ---: | ---: |']
  for (const t of targets) {
    const xs = main.get(t.name) ?? []
    const m = upperMedian(xs)
    out.push(`| ${t.name} | ${m.toFixed(1)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} | ${(bare / m).toFixed(2)} | ${upperMedian(whole.get(t.name) ?? []).toFixed(1)} |`)
  }
  console.log(out.join('\n'))
}

/** Debian's nginx with one worker in front of the origin, keep-alive both ways; its worker's pid for CPU. */
async function startNginx(dir: string, upstream: string): Promise<{ child: ChildProcess; url: string; workerPid: number }> {
  const probe = createServer()
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((done) => probe.close(() => done()))
  const prefix = join(dir, 'nginx')
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `worker_processes 1;
user root;
daemon off;
master_process on;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}-body;
  proxy_temp_path ${prefix}-proxy;
  upstream origin { server ${new URL(upstream).host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`)
  const child = spawn('nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'nginx-error.log')], { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      break
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  // The worker is the master's only child.
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  return { child, url, workerPid: children[0] ?? child.pid ?? 0 }
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      probe: { type: 'string', default: '3000' },
      sizes: { type: 'string', default: '0,1000000,10000000' },
      only: { type: 'string', default: '' },
      ab: { type: 'string', default: '0' },
      'ab-requests': { type: 'string', default: '30000' },
      nginx: { type: 'boolean', default: false },
      wrk: { type: 'boolean', default: false },
      compare: { type: 'string', default: '' },
    },
  })
  const rounds = Number(values.rounds)
  const seconds = Number(values.duration)
  const connections = Number(values.connections)
  const probe = Number(values.probe)
  const sizes = values.sizes.split(',').map(Number)
  const children: ChildProcess[] = []
  const dir = mkdtempSync(join(tmpdir(), 'leakgate-proxy-bench-'))
  if (values.wrk) wrkDir = dir
  const cleanup = (): void => {
    for (const c of children) c.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', cleanup)
  try {
    const clean = Array.from({ length: 200_000 }, () => `sk_live_${randomBytes(18).toString('base64url')}`)
    const leaked = Array.from({ length: 1000 }, (_, i) => `ghp_benchLeaked${String(i).padStart(4, '0')}${randomBytes(12).toString('hex')}`)

    const origin = await startChild(['bench/origin.ts'], (line) => {
      try {
        return Number(new URL((JSON.parse(line) as { url: string }).url).port)
      } catch {
        return undefined
      }
    })
    children.push(origin.child)
    const upstream = `http://127.0.0.1:${origin.port}`
    const checks: string[] = []
    const targets: Target[] = [{ name: 'origin direct', url: upstream, leakedShare: 0, pid: origin.child.pid ?? 0 }]
    for (const kind of ['bare', 'plain']) {
      const c = await startChild([SELF, '--serve', kind, upstream], portLine)
      children.push(c.child)
      targets.push({ name: kind === 'bare' ? 'bare @fastify/http-proxy' : 'node:http + undici', url: `http://127.0.0.1:${c.port}`, leakedShare: 0, pid: c.child.pid ?? 0 })
    }
    if (values.nginx) {
      const ng = await startNginx(dir, upstream)
      children.push(ng.child)
      targets.push({ name: 'nginx, 1 worker', url: ng.url, leakedShare: 0, pid: ng.workerPid })
    }
    for (const n of sizes) {
      const t0 = performance.now()
      const file = join(dir, `leaks-${n}.snapshot`)
      const entries = [...randomEntries(n, n === 0 ? [] : leaked)]
      const snapshot = encodeSnapshot(entries, 1)
      writeFileSync(file, snapshot)
      if (n === 1_000_000) {
        checks.push(`judge() on a 1M index, 200 000 distinct clean tokens (LRU misses): ${checkCost(snapshot, clean).toFixed(0)} ns/request`)
        checks.push(`judge() on a 1M index, 1 000 distinct clean tokens (LRU hits): ${checkCost(snapshot, clean.slice(0, 1000)).toFixed(0)} ns/request`)
      }
      const c = await startChild(['cli.ts', 'node', '--index', file, '--upstream', upstream, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', 'info'], portLine)
      children.push(c.child)
      console.error(`node with ${n} leaks ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      const label = n === 0 ? '0' : n >= 1_000_000 ? `${n / 1_000_000}M` : String(n)
      const pid = c.child.pid ?? 0
      targets.push({ name: `leakgate, ${label} leaks, clean`, url: `http://127.0.0.1:${c.port}`, leakedShare: 0, pid })
      if (n > 0) targets.push({ name: `leakgate, ${label} leaks, 1 % leaked`, url: `http://127.0.0.1:${c.port}`, leakedShare: 0.01, pid })
      if (n === 1_000_000 && values.compare !== '') {
        const other = resolve(values.compare)
        // The other checkout builds its own file from the same entries: its snapshot format may differ.
        const otherFile = join(dir, 'leaks-other.snapshot')
        execFileSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'index', 'build', '--out', otherFile], {
          cwd: other, input: entries.map((e) => `${typeof e.sha256 === 'string' ? e.sha256 : Buffer.from(e.sha256 as Uint8Array).toString('hex')},${e.action},${e.leakId}\n`).join(''), stdio: ['pipe', 'ignore', 'inherit'], maxBuffer: 1 << 30,
        })
        const o = await startChild(['cli.ts', 'node', '--index', otherFile, '--upstream', upstream, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', 'info'], portLine, other)
        children.push(o.child)
        targets.push({ name: `leakgate (${basename(other)}), 1M leaks, clean`, url: `http://127.0.0.1:${o.port}`, leakedShare: 0, pid: o.child.pid ?? 0 })
      }
    }

    const only = values.only.split(',').filter((x) => x !== '')
    if (only.length > 0) {
      const keep = targets.filter((t) => t.name.startsWith('bare') || only.some((o) => t.name.includes(o)))
      targets.splice(0, targets.length, ...keep)
    }
    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]))
    // warm up every target (JIT, pools, LRU)
    for (const t of targets) await throughput(t, clean, leaked, 1, connections)
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse()
      for (const t of order) {
        const { rps, cpuUs } = await throughput(t, clean, leaked, seconds, connections)
        const lat = await latency(t, clean, probe)
        samples.get(t.name)?.push({ rps, cpuUs, ...lat })
        console.error(`round ${r + 1} ${t.name}: ${rps.toFixed(0)} req/s, ${cpuUs.toFixed(1)} CPU µs/req, p50 ${lat.p50us.toFixed(0)} µs, p99 ${lat.p99us.toFixed(0)} µs`)
      }
    }

    const bare = samples.get('bare @fastify/http-proxy') ?? []
    const bareRps = upperMedian(bare.map((s) => s.rps))
    const bareP99 = upperMedian(bare.map((s) => s.p99us))
    const bareCpu = upperMedian(bare.map((s) => s.cpuUs))
    const lines = [
      `| target | req/s | × bare | CPU µs/req | bare CPU ÷ this | p50 µs | p99 µs | p99 − bare p99 µs |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ]
    for (const t of targets) {
      const s = samples.get(t.name) ?? []
      const rps = upperMedian(s.map((x) => x.rps))
      const p99 = upperMedian(s.map((x) => x.p99us))
      const cpu = upperMedian(s.map((x) => x.cpuUs))
      lines.push(`| ${t.name} | ${rps.toFixed(0)} | ${(rps / bareRps).toFixed(2)} | ${cpu.toFixed(1)} | ${(bareCpu / cpu).toFixed(2)} | ${upperMedian(s.map((x) => x.p50us)).toFixed(0)} | ${p99.toFixed(0)} | ${(p99 - bareP99).toFixed(0)} |`)
    }
    console.log(lines.join('\n'))
    for (const c of checks) console.log(`\n${c}`)
    const abRounds = Number(values.ab)
    if (abRounds > 0) await mainThreadAB(targets.filter((t) => ['bare @fastify/http-proxy', 'node:http + undici', 'leakgate, 1M leaks, clean'].includes(t.name) || (t.name.startsWith('leakgate (') && t.name.endsWith('1M leaks, clean'))), clean, abRounds, Number(values['ab-requests']), connections)
  } finally {
    cleanup()
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3] ?? 'bare', process.argv[4] ?? '')
else await main()
