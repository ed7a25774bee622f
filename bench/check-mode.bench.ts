/**
 * What check mode costs a request: nginx asking a check-only node with `auth_request` (the shipped
 * deploy/nginx/leakgate-auth-request.conf, ports replaced) against the same nginx proxying to the same
 * origin without asking, in interleaved rounds (A B A B…, order reversed every other round), medians.
 *
 *   node --import ./scripts/register-ts.js bench/check-mode.bench.ts [--rounds 4] [--duration 5] [--connections 32] [--leaks 100000]
 *
 * One nginx (Debian's, one worker, as `nobody` when run as root) serves both: the recipe's server and a
 * plain server on another port with the same keep-alive to the origin. The node runs in its own process
 * in check mode with `--index` (a snapshot of `--leaks` random hashes, no control plane); the origin is
 * bench/origin.ts in its own process. Traffic: autocannon, saturated, `Authorization: Bearer` from a pool
 * of 20 000 clean tokens (more than the node's default LRU would keep hot for long). Throughput is
 * requests per second; latency the median of autocannon's p50 and p99 (whole milliseconds).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { encodeSnapshot, type SnapshotEntry } from '../protocol/snapshot.js'
import { median } from './stats.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const RECIPE = new URL('../deploy/nginx/leakgate-auth-request.conf', import.meta.url)

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    leaks: { type: 'string', default: '100000' },
  },
})
const rounds = Number(values.rounds)
const duration = Number(values.duration)
const connections = Number(values.connections)
const leaks = Number(values.leaks)

const dir = mkdtempSync(join(tmpdir(), 'leakgate-check-bench-'))
const children: ChildProcess[] = []
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)

/** Starts a child that prints a JSON line carrying its port; resolves to that port. */
function startChild(args: string[], portOf: (line: Record<string, unknown>) => number | undefined): Promise<number> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let buf = ''
    let done = false
    child.stdout?.on('data', (d: Buffer) => {
      if (done) return // later lines are read and dropped so the pipe never fills
      buf += d.toString()
      for (const line of buf.split('\n')) {
        try {
          const port = portOf(JSON.parse(line) as Record<string, unknown>)
          if (port !== undefined) {
            done = true
            resolve(port)
            return
          }
        } catch {
          // not a whole JSON line yet
        }
      }
    })
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${args.join(' ')} exited ${code}`))
    })
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function* randomEntries(n: number): Generator<SnapshotEntry> {
  for (let i = 0; i < n; i++) yield { sha256: randomBytes(32).toString('hex'), action: i % 2 === 0 ? 'block' : 'monitor', leakId: i + 1 }
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`nothing listening on ${port}`)
}

async function main(): Promise<void> {
  const originPort = await startChild(['bench/origin.ts'], (j) => (typeof j.url === 'string' ? Number(new URL(j.url).port) : undefined))
  const snapshot = join(dir, 'index.lgs')
  writeFileSync(snapshot, encodeSnapshot(randomEntries(leaks), 1))
  const nodePort = await startChild(
    ['cli.ts', 'node', '--mode', 'check', '--index', snapshot, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', 'info'],
    (j) => (j.msg === 'leakgate node listening' ? (j.proxy as { port: number }).port : undefined),
  )

  const checkedPort = await freePort()
  const plainPort = await freePort()
  const recipe = readFileSync(RECIPE, 'utf8')
    .replace(/server 127\.0\.0\.1:8001;/, `server 127.0.0.1:${nodePort};`)
    .replace(/server 127\.0\.0\.1:3000;/, `server 127.0.0.1:${originPort};`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${checkedPort};`)
  writeFileSync(join(dir, 'leakgate.conf'), recipe)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, k)};`).join('\n')
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
${temp}
  include ${join(dir, 'leakgate.conf')};
  # The same nginx, the same origin and keep-alive, without the check.
  server {
    listen 127.0.0.1:${plainPort};
    location / {
      proxy_set_header Host $host;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://leakgate_api;
    }
  }
}
`)
  const root = process.getuid?.() === 0
  if (root) {
    chownSync(dir, 65534, 65534)
    chmodSync(dir, 0o755)
  }
  const nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'inherit', ...(root ? { uid: 65534, gid: 65534 } : {}) })
  children.push(nginx)
  await waitForPort(checkedPort)
  await waitForPort(plainPort)

  const tokens = Array.from({ length: 20_000 }, () => `ghp_${randomBytes(27).toString('base64url')}`)
  let next = 0
  const run = async (port: number, seconds: number): Promise<{ rps: number; p50: number; p99: number; non2xx: number }> => {
    const r = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections,
      duration: seconds,
      requests: [{ path: '/v1/items?page=2', setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }],
    })
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }
  }

  const targets = [
    { name: 'nginx → origin', port: plainPort, samples: [] as Array<{ rps: number; p50: number; p99: number }> },
    { name: 'nginx + check-only node → origin', port: checkedPort, samples: [] as Array<{ rps: number; p50: number; p99: number }> },
  ]
  for (const t of targets) await run(t.port, 1) // warm-up: connections, JIT, the node's LRU
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse()
    for (const t of order) {
      const s = await run(t.port, duration)
      if (s.non2xx > 0) throw new Error(`${t.name}: ${s.non2xx} answers were not 2xx`)
      t.samples.push(s)
      console.error(`round ${round + 1} ${t.name}: ${Math.round(s.rps)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms`)
    }
  }

  const rows = targets.map((t) => ({ name: t.name, rps: median(t.samples.map((s) => s.rps)), p50: median(t.samples.map((s) => s.p50)), p99: median(t.samples.map((s) => s.p99)) }))
  console.log(`\n${rounds} interleaved rounds of ${duration} s, ${connections} connections, ${leaks} leaked hashes; medians\n`)
  console.log('| target | req/s | p50 ms | p99 ms |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} |`)
  const [plain, checked] = rows
  if (plain !== undefined && checked !== undefined) console.log(`\nchecked / plain throughput: ${(checked.rps / plain.rps).toFixed(2)}`)
}

try {
  await main()
} finally {
  cleanup()
}
