/**
 * The node's memory with a large index, measured on the real `leakgate node` process (the CLI, spawned):
 * resident memory after a load (VmRSS) and the peak during it (VmHWM), from /proc/PID/status, for a
 * 1-entry index and an N-entry one, loaded three ways: `--index FILE`, the cache folder, and a snapshot
 * streamed from a control plane (here a small stand-in serving the file, so the index need not be
 * written to a control plane's store first), then the same snapshot again while the first index serves
 * (a 410): its peak is taken from a VmHWM reset just before (`/proc/PID/clear_refs`), so it is the
 * reload's own, not the first load's; likewise `--index FILE` read again on SIGHUP. Also times `leakgate index build` for N hashes.
 *
 *   node --import ./scripts/register-ts.js bench/node-memory.bench.ts [--entries 10000000]
 *
 * Everything it writes goes to a temporary folder, removed at the end.
 *
 * The control-plane row is about 3 B a hash above the file rows with glibc's default malloc settings:
 * not the index, but the 64 KiB socket reads of the snapshot body, freed by V8 only at its next GC, so
 * that some 30 MiB of them are garbage at once; glibc serves them from its main heap, which it gives back
 * to the system only from its top, and a live block above them keeps them resident (malloc_trim(0) on
 * the idle node takes it back). With MALLOC_MMAP_THRESHOLD_=65536 in the environment, such reads are
 * mapped and unmapped one by one, and the row is the file rows' (14.9 B a hash against 14.6).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, closeSync, createReadStream, mkdirSync, copyFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SyncGoneError } from '../lib/errors.js'

const { values } = parseArgs({ options: { entries: { type: 'string', default: '10000000' } } })
const N = Number(values.entries)
const root = new URL('..', import.meta.url).pathname
const cli = join(root, 'cli.ts')
const register = new URL('../scripts/register-ts.js', import.meta.url).href
const dir = mkdtempSync(join(tmpdir(), 'leakgate-node-memory-'))

interface Status { rss: number; hwm: number }

function status(pid: number): Status {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

const MiB = (b: number): string => (b / 2 ** 20).toFixed(1)

/** Writes n random SHA-256 hex lines. */
async function writeHashes(path: string, n: number): Promise<void> {
  const out = createWriteStream(path)
  const batch = 100_000
  for (let done = 0; done < n; done += batch) {
    const k = Math.min(batch, n - done)
    const bytes = randomBytes(32 * k)
    const lines: string[] = []
    for (let i = 0; i < k; i++) lines.push(bytes.toString('hex', 32 * i, 32 * i + 32))
    if (!out.write(lines.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

async function build(input: string, out: string): Promise<number> {
  const fd = openSync(input, 'r')
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', register, cli, 'index', 'build', '--out', out], { stdio: [fd, 'ignore', 'inherit'] })
  const code = await new Promise<number | null>((r) => child.once('exit', r))
  closeSync(fd)
  if (code !== 0) throw new Error(`index build exited ${code}`)
  return (performance.now() - started) / 1000
}

interface Run { child: ChildProcess; lines: string[]; started: number }

function startNode(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', register, cli, 'node', '--upstream', 'http://127.0.0.1:9', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', ...args], {
    env: { ...process.env, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_HEARTBEAT_MS: '600000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const run: Run = { child, lines: [], started: performance.now() }
  let rest = ''
  child.stdout!.on('data', (d: Buffer) => {
    const text = rest + d.toString('utf8')
    const parts = text.split('\n')
    rest = parts.pop() ?? ''
    run.lines.push(...parts)
  })
  return run
}

async function waitForLine(run: Run, pattern: RegExp, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (run.lines.some((l) => pattern.test(l))) return (performance.now() - run.started) / 1000
    if (Date.now() > deadline) throw new Error(`no log line ${pattern} in ${timeoutMs} ms:\n${run.lines.join('\n')}`)
    if (run.child.exitCode !== null) throw new Error(`node exited ${run.child.exitCode}:\n${run.lines.join('\n')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM')
  if (run.child.exitCode === null) await new Promise((r) => run.child.once('exit', r))
}

// Makes VmHWM the peak from now on (Linux 4.0 and later); false where that is refused.
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

// Settled figures: a few readings a quarter second apart, the last taken.
async function settled(pid: number): Promise<Status> {
  await new Promise((r) => setTimeout(r, 1000))
  return status(pid)
}

/** A stand-in control plane: serves the snapshot file, holds change polls, answers 410 on demand. */
function standIn(snapshot: string): { server: Server; gone: { value: boolean }; served: { value: number } } {
  const gone = { value: false }
  const served = { value: 0 }
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/sync/snapshot') === true) {
      served.value++
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(snapshot).size, etag: '"r1"', 'leakgate-revision': '1' })
      createReadStream(snapshot).pipe(res)
    } else if (req.url?.startsWith('/v1/sync/changes') === true) {
      if (gone.value) {
        gone.value = false
        res.writeHead(410, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: SyncGoneError.code }))
        return
      }
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"revision":1,"changes":[]}'), 300)
    } else {
      req.resume()
      res.writeHead(204).end()
    }
  })
  return { server, gone, served }
}

type Row = { how: string; entries: number; rss: number; hwm: number; load: number }

async function measure(snapshot: string, entries: number): Promise<Row[]> {
  const rows: Row[] = []
  // 1. --index FILE
  {
    const run = startNode(['--index', snapshot])
    const load = await waitForLine(run, /enforcing the index file/)
    const s = await settled(run.child.pid!)
    rows.push({ how: '--index FILE', entries, ...s, load })
    // SIGHUP: the file loaded again while its index serves.
    if (!resetPeak(run.child.pid!)) console.log('VmHWM could not be reset: the reload row\'s peak is the process\'s')
    const t0 = performance.now()
    run.child.kill('SIGHUP')
    await waitForLine(run, /reloaded the index file/)
    const reload = (performance.now() - t0) / 1000
    rows.push({ how: '--index FILE again (SIGHUP, old index serving)', entries, ...(await settled(run.child.pid!)), load: reload })
    await stop(run)
  }
  // 2. the cache folder, control plane away
  {
    const cacheDir = join(dir, `cache-${entries}`)
    mkdirSync(cacheDir, { recursive: true })
    copyFileSync(snapshot, join(cacheDir, 'index.snapshot'))
    const run = startNode([], { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:9' })
    const load = await waitForLine(run, /started from the cached index/)
    const s = await settled(run.child.pid!)
    rows.push({ how: 'cache folder', entries, ...s, load })
    await stop(run)
    rmSync(cacheDir, { recursive: true, force: true })
  }
  // 3. streamed from a control plane, written to the cache; then a 410 makes it fetch again while its index serves
  {
    const cacheDir = join(dir, `sync-${entries}`)
    const plane = standIn(snapshot)
    await new Promise<void>((r) => plane.server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(plane.server.address() as AddressInfo).port}`
    const run = startNode([], { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_CONTROL_PLANE: url, LEAKGATE_NODE_KEY: 'bench', LEAKGATE_SYNC_WAIT_SECONDS: '1' })
    const load = await waitForLine(run, /loaded a snapshot from the control plane/)
    const s = await settled(run.child.pid!)
    rows.push({ how: 'control plane (first)', entries, ...s, load })
    if (!resetPeak(run.child.pid!)) console.log('VmHWM could not be reset: the reload row\'s peak is the process\'s')
    plane.gone.value = true
    const before = plane.served.value
    while (plane.served.value === before) await new Promise((r) => setTimeout(r, 20))
    const t0 = performance.now()
    while (run.lines.filter((l) => /loaded a snapshot from the control plane/.test(l)).length < 2) await new Promise((r) => setTimeout(r, 20))
    const reload = (performance.now() - t0) / 1000
    const r = await settled(run.child.pid!)
    rows.push({ how: 'control plane (again, old index serving)', entries, ...r, load: reload })
    await stop(run)
    await new Promise((r) => plane.server.close(r))
    rmSync(cacheDir, { recursive: true, force: true })
  }
  return rows
}

try {
  const small = join(dir, 'one.snapshot')
  const oneInput = join(dir, 'one.txt')
  await writeHashes(oneInput, 1)
  await build(oneInput, small)
  const input = join(dir, 'hashes.txt')
  const t0 = performance.now()
  await writeHashes(input, N)
  console.log(`input: ${N} hashes, ${MiB(statSync(input).size)} MiB, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const big = join(dir, 'big.snapshot')
  const buildSeconds = await build(input, big)
  rmSync(input)
  console.log(`leakgate index build: ${N} hashes in ${buildSeconds.toFixed(1)} s; snapshot ${MiB(statSync(big).size)} MiB`)

  const base = await measure(small, 1)
  const large = await measure(big, N)
  console.log('\n| load | RSS 1 entry (MiB) | RSS after (MiB) | peak, VmHWM (MiB) | B a hash resident | B a hash peak | start to loaded (s), 1 entry / N |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const [i, row] of large.entries()) {
    const b = base[i]!
    const perHash = (row.rss - b.rss) / N
    const peakPerHash = (row.hwm - b.rss) / N
    console.log(`| ${row.how} | ${MiB(b.rss)} | ${MiB(row.rss)} | ${MiB(row.hwm)} | ${perHash.toFixed(1)} | ${peakPerHash.toFixed(1)} | ${b.load.toFixed(2)} / ${row.load.toFixed(2)} |`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
