/**
 * Scan isolation benchmark: the API's latency while the control plane scans two 10 MB worst-case
 * files (every line secret-like, several rules overlapping on each), and the scanner's own speed on
 * one of them.
 *
 *   node --import ./scripts/register-ts.js bench/scan-isolation.bench.ts [--rounds 3]
 *
 * Starts the real control plane (`cli.ts control-plane`, its own process, the folder allowed in
 * `scan.allowedPaths`), starts a dir scan of the two files, and meanwhile asks `/healthz` one request
 * after another (a request every 10 ms at most), until the scan is done. Reports the scan's wall time
 * and /healthz p50, p99 and max during the scan, next to the same figures with no scan running.
 * Goal: /healthz p99 ≤ 50 ms while the scan runs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { generateKey } from '../control-plane/store/keys.js'
import { builtinRules } from '../control-plane/detect/rules.js'
import { scanText } from '../control-plane/detect/scanner.js'
import { startControlPlaneChild } from './control-plane-child.js'
import { quantile } from './stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } })
const ROUNDS = Number(values.rounds)
const SIZE = 10_000_000

const ms = (x: number): string => `${x.toFixed(1)} ms`

/** A deterministic alphanumeric string. */
function chars(seed: number, n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  let x = seed >>> 0
  let out = ''
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out += abc[(x >>> 16) % abc.length]
  }
  return out
}

/** 10 MB of lines each holding tokens several rules report, overlapping (a GitHub token assigned to `token=`...). */
function worstCase(seed: number): string {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < SIZE; i++) {
    const line = `token="ghp_${chars(seed + i, 36)}" api_key = "${chars(seed * 7 + i, 32)}" aws_secret_access_key=${chars(seed * 13 + i, 40)} AKIA${chars(seed * 17 + i, 16).toUpperCase()} password="${chars(seed * 19 + i, 20)}"\n`
    lines.push(line)
    size += line.length
  }
  return lines.join('').slice(0, SIZE)
}

const root = mkdtempSync(join(tmpdir(), 'leakgate-scan-bench-'))
const files = join(root, 'files')
mkdirSync(files)
writeFileSync(join(files, 'a.env'), worstCase(1))
writeFileSync(join(files, 'b.env'), worstCase(2))

// The scanner alone, in this process: one 10 MB file.
const text = readFileSync(join(files, 'a.env'), 'utf8')
const rules = builtinRules()
const scanTimes: number[] = []
let found = 0
for (let i = 0; i < ROUNDS; i++) {
  const t0 = performance.now()
  found = scanText(text, { rules }).length
  scanTimes.push(performance.now() - t0)
}

const admin = generateKey()
const { child, base } = await startControlPlaneChild(
  { ...process.env, LEAKGATE_CP_PORT: '0', LEAKGATE_CP_HOST: '127.0.0.1', LEAKGATE_DATA_DIR: join(root, 'data'), LEAKGATE_ADMIN_KEY: admin, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_SCAN: JSON.stringify({ allowedPaths: [files] }) },
  60_000,
)
const auth = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }

async function health(): Promise<number> {
  const t0 = performance.now()
  const res = await fetch(`${base}/healthz`)
  await res.arrayBuffer()
  return performance.now() - t0
}

/** /healthz latencies, sampled until `until` resolves (or for `ms` ms). */
async function sample(until: () => Promise<boolean>): Promise<number[]> {
  const out: number[] = []
  for (;;) {
    out.push(await health())
    if (await until()) return out
    await new Promise((r) => setTimeout(r, 10))
  }
}

// Warm up, then a baseline with no scan.
for (let i = 0; i < 50; i++) await health()
const idleEnd = performance.now() + 3000
const idle = (await sample(async () => performance.now() > idleEnd)).sort((a, b) => a - b)

const rows: string[] = []
const p99s: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  const t0 = performance.now()
  const started = await fetch(`${base}/v1/scans`, { method: 'POST', headers: auth, body: JSON.stringify({ source: { type: 'dir', path: files } }) })
  const { id } = (await started.json()) as { id: number }
  let status = 'running'
  let leaks = 0
  let checks = 0
  const during = await sample(async () => {
    // Poll the scan every 10th sample: the polls are API requests too, not counted.
    if (++checks % 10 !== 0) return false
    const scan = (await (await fetch(`${base}/v1/scans/${id}`, { headers: auth })).json()) as { status: string; leaksCreated: number; leaksUpdated: number }
    status = scan.status
    leaks = scan.leaksCreated + scan.leaksUpdated
    return status !== 'running'
  })
  const wall = performance.now() - t0
  during.sort((a, b) => a - b)
  p99s.push(quantile(during, 0.99))
  rows.push(`| ${round + 1} | ${status} | ${(wall / 1000).toFixed(1)} s | ${leaks} | ${during.length} | ${ms(quantile(during, 0.5))} | ${ms(quantile(during, 0.99))} | ${ms(during.at(-1) ?? Number.NaN)} |`)
}
child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
rmSync(root, { recursive: true, force: true })

scanTimes.sort((a, b) => a - b)
console.log(`scanner alone (this process), one 10 MB worst-case file: ${found} findings, median ${ms(quantile(scanTimes, 0.5))} (${scanTimes.map(ms).join(', ')}), ${(SIZE / 1e6 / (quantile(scanTimes, 0.5) / 1000)).toFixed(1)} MB/s`)
console.log(`/healthz with no scan: p50 ${ms(quantile(idle, 0.5))}, p99 ${ms(quantile(idle, 0.99))}, max ${ms(idle.at(-1) ?? Number.NaN)} (${idle.length} requests)`)
console.log('\n| round | scan | wall time | leaks | /healthz requests | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|')
for (const r of rows) console.log(r)
const worst = Math.max(...p99s)
console.log(`\nworst /healthz p99 during a scan: ${ms(worst)} (goal ≤ 50 ms): ${worst <= 50 ? 'met' : 'NOT met'}`)
