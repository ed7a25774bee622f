/**
 * TLS termination: the Leakgate node serving TLS (HTTP/1.1 over TLS, keep-alive) against Debian's nginx
 * terminating TLS (one worker, keep-alive to the origin), both in front of the same origin, with the same
 * certificate (P-256, made for the run in a temp dir and removed after).
 *
 *   node --import ./scripts/register-ts.js bench/tls.bench.ts [--rounds 4] [--duration 5] [--connections 32]
 *
 * Rounds go A B A B (the order flips every other round); figures are medians over rounds. Throughput:
 * autocannon, saturated, over `--connections` keep-alive TLS connections, clean traffic
 * (`Authorization: Bearer` from a pool of distinct tokens, the node's index empty but in force). CPU per
 * request: the serving process's user + system time (nginx: its worker) over the requests it served.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { encodeSnapshot } from '../protocol/snapshot.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const TICK_MS = 10 // Linux USER_HZ

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((done) => probe.close(() => done()))
  return port
}

/** Starts `node --import register-ts args` and waits for a JSON line naming its port. */
function startChild(args: string[], portOf: (line: Record<string, unknown>) => number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let buf = ''
    let done = false
    child.stdout?.on('data', (d: Buffer) => {
      if (done) return
      buf += d.toString()
      for (const line of buf.split('\n')) {
        try {
          const port = portOf(JSON.parse(line) as Record<string, unknown>)
          if (port !== undefined) {
            done = true
            resolve({ child, port })
            return
          }
        } catch {
          // not a JSON line yet
        }
      }
    })
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${args.join(' ')} exited ${code}`))
    })
  })
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    // autocannon counts a refused connection as an error rather than failing.
    const r = await autocannon({ url, amount: 1, connections: 1 }).catch(() => undefined)
    if (r !== undefined && r.errors === 0 && r.requests.total === 1) return
    await new Promise((done) => setTimeout(done, 100))
  }
  throw new Error(`${url} never answered`)
}

async function startNginx(dir: string, origin: string, cert: string, key: string): Promise<{ child: ChildProcess; url: string; pid: number }> {
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream origin { server ${new URL(origin).host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`)
  const child = spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'nginx-error.log')], { stdio: 'ignore' })
  const url = `https://127.0.0.1:${port}`
  await waitUp(url)
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  return { child, url, pid: children[0] ?? child.pid ?? 0 }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '4' }, duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } })
  const rounds = Number(values.rounds)
  const duration = Number(values.duration)
  const connections = Number(values.connections)
  const dir = mkdtempSync(join(tmpdir(), 'leakgate-tls-bench-'))
  const children: ChildProcess[] = []
  try {
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' })
    const index = join(dir, 'empty.snapshot')
    writeFileSync(index, encodeSnapshot([], 1))

    const origin = await startChild(['bench/origin.ts'], (j) => (typeof j.url === 'string' ? Number(new URL(j.url).port) : undefined))
    children.push(origin.child)
    const originUrl = `http://127.0.0.1:${origin.port}`
    // The node logs at warn (nothing on start): its port is chosen here and waited for.
    const nodePort = await freePort()
    const leakgate = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'node', '--index', index, '--upstream', originUrl, '--port', String(nodePort), '--admin-port', String(await freePort()),
      '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--tls-cert', cert, '--tls-key', key, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
    children.push(leakgate)
    const nodeUrl = `https://127.0.0.1:${nodePort}`
    await waitUp(nodeUrl)
    const nginx = await startNginx(dir, originUrl, cert, key)
    children.push(nginx.child)

    const targets = [
      { name: 'leakgate node (TLS, HTTP/1.1)', url: nodeUrl, pid: leakgate.pid ?? 0 },
      { name: 'nginx (TLS, 1 worker)', url: nginx.url, pid: nginx.pid },
    ]
    const tokens = Array.from({ length: 10_000 }, (_, i) => `clean-bench-token-${i.toString(36).padStart(8, '0')}`)
    const rps = new Map(targets.map((t) => [t.name, [] as number[]]))
    const cpu = new Map(targets.map((t) => [t.name, [] as number[]]))
    for (const t of targets) await autocannon({ url: t.url, connections, duration: 1 }) // warm up
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse()
      for (const t of order) {
        let i = 0
        const c0 = cpuMs(t.pid)
        const result = await autocannon({
          url: t.url, connections, duration,
          requests: [{ setupRequest: (req) => ({ ...req, path: '/v1/items/42?page=2', headers: { authorization: `Bearer ${tokens[i++ % tokens.length]}` } }) }],
        })
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${t.name}: ${result.non2xx} non-2xx, ${result.errors} errors (${result.timeouts} timeouts, ${result.resets} resets), ${result.requests.total} requests`)
        const n = Math.max(1, result.requests.total)
        rps.get(t.name)?.push(result.requests.average)
        cpu.get(t.name)?.push(((cpuMs(t.pid) - c0) * 1000) / n)
        console.error(`round ${r + 1} ${t.name}: ${Math.round(result.requests.average)} req/s, ${cpu.get(t.name)?.at(-1)?.toFixed(1)} µs CPU/req`)
      }
    }
    console.log(`\nTLS termination, ${connections} keep-alive connections, ${rounds} rounds of ${duration} s (medians)`)
    console.log('| target | req/s | CPU µs/req |')
    console.log('|---|---:|---:|')
    for (const t of targets) console.log(`| ${t.name} | ${Math.round(median(rps.get(t.name) ?? []))} | ${median(cpu.get(t.name) ?? []).toFixed(1)} |`)
    const [a, b] = targets.map((t) => median(rps.get(t.name) ?? []))
    console.log(`\nleakgate / nginx throughput: ${((a ?? 0) / (b ?? 1)).toFixed(2)}`)
  } finally {
    for (const c of children) c.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
