/**
 * `npm run bench`: every benchmark, one after another, each printing its own tables (bench/RESULTS.md
 * records them with the exact commands). Long: about half an hour on a 2-core machine.
 * `npm run bench -- index proxy` runs only the named ones.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BENCHES: Record<string, string[]> = {
  index: ['--expose-gc', '--max-old-space-size=8000', '--import', './scripts/register-ts.js', 'bench/index.bench.ts'],
  credentials: ['--import', './scripts/register-ts.js', 'bench/credentials.bench.ts'],
  proxy: ['--import', './scripts/register-ts.js', 'bench/proxy.bench.ts', '--rounds', '7', '--duration', '3', '--probe', '1500', '--ab', '8'],
  sync: ['--import', './scripts/register-ts.js', 'bench/sync.bench.ts'],
  'snapshot-cache': ['--import', './scripts/register-ts.js', 'bench/snapshot-cache.bench.ts'],
  'sync-fleet': ['--import', './scripts/register-ts.js', 'bench/sync.bench.ts', '--nodes', '1000'],
  'check-mode': ['--import', './scripts/register-ts.js', 'bench/check-mode.bench.ts', '--rounds', '6', '--duration', '5'],
  'node-memory': ['--import', './scripts/register-ts.js', 'bench/node-memory.bench.ts'],
  'node-workers': ['--import', './scripts/register-ts.js', 'bench/node-workers.bench.ts'],
  'body-check': ['--import', './scripts/register-ts.js', 'bench/body-check.bench.ts'],
  'hash-key': ['--import', './scripts/register-ts.js', 'bench/hash-key.bench.ts'],
  detect: ['--import', './scripts/register-ts.js', 'bench/detect.bench.ts'],
  'detect-independent': ['--import', './scripts/register-ts.js', 'bench/detect-independent.bench.ts'],
  'scan-isolation': ['--import', './scripts/register-ts.js', 'bench/scan-isolation.bench.ts', '--rounds', '3'],
  // A smoke run of 20 000 events with 1, 2 and 4 workers (a few minutes); `--events 250000` is a real hour's size.
  'public-sources': ['--import', './scripts/register-ts.js', 'bench/public-sources.bench.ts', '--events', '20000', '--rounds', '1'],
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !(w in BENCHES))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`)
  process.exit(2)
}
const cwd = fileURLToPath(new URL('..', import.meta.url))
let failed = 0
for (const [name, args] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  console.log(`\n## ${name}: node ${args.join(' ')}\n`)
  const res = spawnSync(process.execPath, args, { cwd, stdio: 'inherit' })
  if (res.status !== 0) failed++
}
process.exitCode = failed === 0 ? 0 : 1
