/**
 * A node on several processes (LEAKGATE_WORKERS), measured on the real `leakgate node` (the CLI, spawned):
 *
 * - memory: resident memory (VmRSS, /proc/PID/status) of the primary and of each worker once every
 *   worker has the index, with a 1-entry index and an N-entry one (`--index FILE`), for 1 process and
 *   for `--workers` processes: what each process costs a hash, and the node's total;
 * - throughput: autocannon, saturated, clean traffic (`Authorization: Bearer` from a pool of random
 *   tokens, none leaked) through the node to bench/origin.ts (its own process), 1 process against
 *   `--workers`, interleaved rounds, medians.
 *
 *   node --import ./scripts/register-ts.js bench/node-workers.bench.ts [--entries 10000000] [--workers 2]
 *     [--seconds 10] [--rounds 3] [--connections 64] [--skip-memory] [--skip-throughput]
 *
 * The client, the origin and the node share the machine: on few cores the throughput figures say more
 * about that sharing than about the node. Everything it writes goes to a temporary folder, removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { upperMedian } from './stats.js'

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '10000000' },
    workers: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
  },
})
const N = Number(values.entries)
const W = Number(values.workers)
const root = new URL('..', import.meta.url).pathname
const cli = join(root, 'cli.ts')
const register = new URL('../scripts/register-ts.js', import.meta.url).href
const dir = mkdtempSync(join(tmpdir(), 'leakgate-node-workers-'))
const children: ChildProcess[] = []
const MiB = (b: number): string => (b / 2 ** 20).toFixed(1)

function rss(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN) * 1024
}

async function writeHashes(path: string, n: number): Promise<void> {
  const out = createWriteStream(path)
  for (let done = 0; done < n; done += 100_000) {
    const k = Math.min(100_000, n - done)
    const bytes = randomBytes(32 * k)
    const lines: string[] = []
    for (let i = 0; i < k; i++) lines.push(bytes.toString('hex', 32 * i, 32 * i + 32))
    if (!out.write(lines.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

async function build(n: number, out: string): Promise<void> {
  const input = join(dir, `hashes-${n}.txt`)
  await writeHashes(input, n)
  const fd = openSync(input, 'r')
  const child = spawn(process.execPath, ['--import', register, cli, 'index', 'build', '--out', out], { stdio: [fd, 'ignore', 'inherit'] })
  const code = await new Promise<number | null>((r) => child.once('exit', r))
  closeSync(fd)
  rmSync(input)
  if (code !== 0) throw new Error(`index build exited ${code}`)
}

interface Node { child: ChildProcess; url: string; adminUrl: string }

/** Starts `leakgate node --index FILE` with `workers` processes and waits until every one has the index. */
async function startNode(index: string, upstream: string, workers: number): Promise<Node> {
  const child = spawn(process.execPath, ['--import', register, cli, 'node', '--index', index, '--upstream', upstream, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'], {
    env: { ...process.env, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_WORKERS: String(workers), LEAKGATE_CACHE_DIR: join(dir, 'cache') },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  let text = ''
  child.stdout!.on('data', (d: Buffer) => (text += d.toString('utf8')))
  const deadline = Date.now() + 300_000
  for (;;) {
    const line = text.split('\n').find((l) => l.includes('"leakgate node listening"'))
    if (line !== undefined) {
      const { proxy, admin } = JSON.parse(line) as { proxy: { port: number }; admin: { port: number } }
      const node = { child, url: `http://127.0.0.1:${proxy.port}`, adminUrl: `http://127.0.0.1:${admin.port}` }
      while ((await fetch(`${node.adminUrl}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 100))
      return node
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`node did not start:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function stop(node: Node): Promise<void> {
  node.child.kill('SIGTERM')
  if (node.child.exitCode === null) await new Promise((r) => node.child.once('exit', r))
}

/** RSS of the node's processes: the primary (or the single process) first, then each worker. */
async function processes(node: Node, workers: number): Promise<{ role: string; rss: number }[]> {
  await new Promise((r) => setTimeout(r, 1500))
  const out = [{ role: workers > 1 ? 'primary' : 'single process', rss: rss(node.child.pid!) }]
  if (workers > 1) {
    const ready = (await (await fetch(`${node.adminUrl}/readyz`)).json()) as { workers: { each: { pid: number }[] } }
    for (const [i, w] of ready.workers.each.entries()) out.push({ role: `worker ${i + 1}`, rss: rss(w.pid) })
  }
  return out
}

async function memory(origin: string): Promise<void> {
  const small = join(dir, 'one.snapshot')
  const big = join(dir, 'big.snapshot')
  await build(1, small)
  const t0 = performance.now()
  await build(N, big)
  console.log(`snapshot: ${N} hashes, ${MiB(statSync(big).size)} MiB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  console.log('\n| processes | process | RSS 1 entry (MiB) | RSS N (MiB) | B a hash | start to all ready, N (s) |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: |')
  for (const workers of [1, W]) {
    const a = await startNode(small, origin, workers)
    const base = await processes(a, workers)
    await stop(a)
    const started = performance.now()
    const b = await startNode(big, origin, workers)
    const seconds = (performance.now() - started) / 1000
    const large = await processes(b, workers)
    await stop(b)
    let total0 = 0
    let total = 0
    for (const [i, p] of large.entries()) {
      const b0 = base[i]?.rss ?? NaN
      total0 += b0
      total += p.rss
      console.log(`| ${workers} | ${p.role} | ${MiB(b0)} | ${MiB(p.rss)} | ${((p.rss - b0) / N).toFixed(1)} | ${i === 0 ? seconds.toFixed(1) : ''} |`)
    }
    console.log(`| ${workers} | **all** | ${MiB(total0)} | ${MiB(total)} | ${((total - total0) / N).toFixed(1)} | |`)
  }
}

async function throughput(origin: string): Promise<void> {
  const small = join(dir, 'one.snapshot')
  await build(1, small)
  const tokens = Array.from({ length: 20_000 }, () => `ghp_${randomBytes(27).toString('base64url')}`)
  let next = 0
  const seconds = Number(values.seconds)
  const connections = Number(values.connections)
  const run = async (url: string, duration: number): Promise<{ rps: number; p50: number; p99: number; errors: number }> => {
    const r = await autocannon({
      url, connections, duration,
      requests: [{ path: '/v1/items?page=2', setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }],
    })
    if (r.non2xx > 0) throw new Error(`${r.non2xx} answers not 2xx`)
    // Errors are timeouts (autocannon's 10 s) on a starved machine: counted and shown, not fatal.
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts }
  }
  const targets = [1, W].map((workers) => ({ workers, samples: [] as { rps: number; p50: number; p99: number; errors: number }[] }))
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const node = await startNode(small, origin, t.workers)
      await run(node.url, 2) // warm-up: connections spread over the workers, JIT
      const s = await run(node.url, seconds)
      await stop(node)
      t.samples.push(s)
      console.error(`round ${round + 1}, ${t.workers} process(es): ${Math.round(s.rps)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.errors} errors; load average ${loadavg()[0]?.toFixed(1)}`)
    }
  }
  console.log(`\n${values.rounds} interleaved rounds of ${seconds} s, ${connections} connections, ${cpus().length} cores shared by client, origin and node; medians\n`)
  console.log('| node processes | req/s | p50 ms | p99 ms | errors (all rounds) |')
  console.log('| ---: | ---: | ---: | ---: | ---: |')
  for (const t of targets) console.log(`| ${t.workers} | ${Math.round(upperMedian(t.samples.map((s) => s.rps)))} | ${upperMedian(t.samples.map((s) => s.p50))} | ${upperMedian(t.samples.map((s) => s.p99))} | ${t.samples.reduce((a, s) => a + s.errors, 0)} |`)
}

try {
  const originChild = spawn(process.execPath, ['--import', register, join(root, 'bench/origin.ts')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(originChild)
  const origin = await new Promise<string>((resolve) => originChild.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)))
  if (values['skip-memory'] !== true) await memory(origin)
  if (values['skip-throughput'] !== true) await throughput(origin)
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
