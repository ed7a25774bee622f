/**
 * Two Leakgate nodes, this checkout and another (`--against DIR`, a checkout with its node_modules),
 * driven AT THE SAME TIME round after round, so whatever else loads the machine falls on both alike:
 * the steadiest way found to see a cost of a few per cent on a shared machine, where sequential rounds
 * (proxy.bench.ts) move by more than that between rounds. Both enforce the same 10 000 hashes (each index file built by its own checkout's `leakgate index build`)
 * (the index size does not matter to what is compared: the work around the check) and forward to one origin.
 *
 *   node --import ./scripts/register-ts.js bench/paired-nodes.bench.ts --against ../base [--rounds 12] [--requests 20000] [--connections 16]
 *     [--body-bytes N] [--there-env K=V ...]   (POST bodies of N bytes; an environment variable for the other node only)
 *
 * Prints, per round and as medians, each node's main-thread CPU a request (/proc/PID/task/PID) and
 * the ratio this ÷ the other. Run it against a copy of this very checkout first (an A/A run): its
 * ratios show the noise.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { upperMedian } from './stats.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const { values } = parseArgs({ options: { against: { type: 'string' }, rounds: { type: 'string', default: '12' }, requests: { type: 'string', default: '20000' }, connections: { type: 'string', default: '16' }, 'there-env': { type: 'string', multiple: true, default: [] }, 'body-bytes': { type: 'string', default: '0' } } })
if (values.against === undefined) throw new TypeError('--against DIR is required: the checkout to compare this one with')
const other = resolve(values.against)

const children: ChildProcess[] = []
const dir = mkdtempSync(join(tmpdir(), 'leakgate-paired-'))
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** Starts `args` from `cwd` and resolves with its pid and the port `pick` reads from its stdout. */
function start(cwd: string, args: string[], pick: (line: unknown) => number | undefined, env: Record<string, string> = {}): Promise<{ pid: number; port: number }> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', ...args], { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  return new Promise((done, fail) => {
    let buf = ''
    let found = false
    child.stdout?.on('data', (d: Buffer) => {
      if (found) return // later lines are read and dropped so the pipe never fills
      buf += d.toString()
      for (const line of buf.split('\n')) {
        let port: number | undefined
        try {
          port = pick(JSON.parse(line))
        } catch {
          continue
        }
        if (port !== undefined) {
          found = true
          done({ pid: child.pid ?? 0, port })
          return
        }
      }
    })
    child.on('exit', (code) => {
      if (!found) fail(new Error(`${args.join(' ')} in ${cwd} exited ${code}`))
    })
  })
}

/** Main-thread CPU time (user + system) of a process, in ms. */
function mainThreadMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10 // utime, stime in USER_HZ ticks of 10 ms
}


const origin = await start(ROOT, ['bench/origin.ts'], (j) => (typeof (j as { url?: unknown }).url === 'string' ? Number(new URL((j as { url: string }).url).port) : undefined))
// Each checkout builds the index file with its own `leakgate index build`: the snapshot format may differ between them.
const hashes = join(dir, 'hashes.txt')
writeFileSync(hashes, Array.from({ length: 10_000 }, (_, i) => `${randomBytes(32).toString('hex')},block,${i + 1}\n`).join(''))
function buildIndex(cwd: string, out: string): string {
  execFileSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'index', 'build', '--out', out], { cwd, input: readFileSync(hashes), stdio: ['pipe', 'ignore', 'inherit'] })
  return out
}
const nodeArgs = (file: string): string[] => ['cli.ts', 'node', '--index', file, '--upstream', `http://127.0.0.1:${origin.port}`, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', 'info']
const proxyPort = (j: unknown): number | undefined => (j as { proxy?: { port?: number } }).proxy?.port
const here = await start(ROOT, nodeArgs(buildIndex(ROOT, join(dir, 'here.snapshot'))), proxyPort)
// `--there-env K=V` (repeatable): the other node's environment only, to compare a setting on one checkout.
const thereEnv = Object.fromEntries((values['there-env'] as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
const there = await start(other, nodeArgs(buildIndex(other, join(dir, 'there.snapshot'))), proxyPort, thereEnv)

const clean = Array.from({ length: 50_000 }, () => `sk_live_${randomBytes(18).toString('base64url')}`)
const amount = Number(values.requests)
const connections = Number(values.connections)
const body = Number(values['body-bytes']) > 0 ? randomBytes(Number(values['body-bytes'])).toString('latin1') : undefined
function drive(port: number): Promise<autocannon.Result> {
  let i = Math.floor(Math.random() * clean.length)
  return autocannon({
    url: `http://127.0.0.1:${port}`, connections, amount,
    // `--body-bytes N`: each request a POST of N bytes (octet-stream, streamed through unchecked).
    requests: [{ setupRequest: (req) => ({ ...req, path: '/v1/items/42?page=2', ...(body === undefined ? {} : { method: 'POST' as const, body }), headers: { authorization: `Bearer ${clean[i++ % clean.length]}`, ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }) } }) }],
  })
}

await Promise.all([drive(here.port), drive(there.port)]) // warm-up: JIT, pools, LRU
const mine: number[] = []
const theirs: number[] = []
const ratios: number[] = []
for (let r = 0; r < Number(values.rounds); r++) {
  const h0 = mainThreadMs(here.pid)
  const t0 = mainThreadMs(there.pid)
  const [h, t] = await Promise.all([drive(here.port), drive(there.port)])
  const us = ((mainThreadMs(here.pid) - h0) * 1000) / Math.max(1, h.requests.total)
  const them = ((mainThreadMs(there.pid) - t0) * 1000) / Math.max(1, t.requests.total)
  mine.push(us)
  theirs.push(them)
  ratios.push(us / them)
  console.log(`round ${r + 1}: this ${us.toFixed(1)} µs/req, ${other} ${them.toFixed(1)} µs/req, ratio ${(us / them).toFixed(3)}`)
}
console.log(`\nmain-thread CPU a request, medians: this ${upperMedian(mine).toFixed(1)} µs, ${other} ${upperMedian(theirs).toFixed(1)} µs; ratio per round: median ${upperMedian(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)} to ${Math.max(...ratios).toFixed(3)})`)
process.exit(0)
