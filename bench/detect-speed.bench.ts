/**
 * Scanner speed at the size the rule set is heading for: MB/s of the engine on one core, and of a
 * whole directory scan on one thread and on two.
 *
 *   node --import ./scripts/register-ts.js bench/detect-speed.bench.ts
 *
 * Rules: every built-in rule, plus a synthetic provider set (bench/detect-synthetic.ts: 260 specs,
 * prefixed tokens and name-anchored values) standing for the providers still to come; after those
 * land in the built-in set, the "built-in" lines are the real figures.
 * Engine: scanText over TypeScript's lib/*.js and *.d.ts held in memory, one thread; windowed rules
 * against the same rules made to read the whole text; rounds interleaved, medians.
 * End to end: scanSource on node_modules/typescript (large files) and on the labelled corpus (1 700
 * small files), built-in rules, --jobs 1 against --jobs 2 (this thread and one worker), interleaved,
 * after one warm-up round whose first --jobs 2 scan (the threads starting) is shown apart.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { scanSource } from '../control-plane/detect/index.js'
import { builtinRules } from '../control-plane/detect/rules.js'
import { scanText } from '../control-plane/detect/scanner.js'
import type { Rule } from '../control-plane/detect/rule.js'
import { writeCorpus } from '../control-plane/detect/corpus/generate.js'
import { syntheticRules } from './detect-synthetic.js'
import { typescriptLibTexts } from './typescript-lib.js'
import { upperMedian } from './stats.js'

const show = (xs: number[]): string => `${upperMedian(xs).toFixed(1)} MB/s  [${xs.map((x) => x.toFixed(1)).join(', ')}]`
const ROUNDS = Number(process.env.ROUNDS ?? 5)

const { texts, bytes } = typescriptLibTexts()

const builtin = builtinRules()
const all = [...syntheticRules(), ...builtin]
const unwindowed: Rule[] = all.map((r) => {
  const { reach: _reach, ...rest } = r
  return rest
})
const keywords = new Set(all.flatMap((r) => r.keywords)).size
console.log(`${availableParallelism()} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
console.log(`rules: ${builtin.length} built-in (${builtin.filter((r) => r.reach !== undefined).length} windowed); with the synthetic set ${all.length} rules, ${keywords} keywords, ${all.filter((r) => r.reach !== undefined).length} windowed`)

const engine = (rules: readonly Rule[]): number => {
  const t0 = performance.now()
  let n = 0
  for (const t of texts) n += scanText(t.text, { rules, path: t.path }).length
  if (n < 0) console.log(n)
  return bytes / 1e6 / ((performance.now() - t0) / 1000)
}
const sets: Array<[string, readonly Rule[]]> = [
  [`built-in rules (${builtin.length})`, builtin],
  [`built-in + synthetic (${all.length})`, all],
  [`built-in + synthetic, no windows (every rule on the whole text)`, unwindowed],
]
for (const [, rules] of sets) engine(rules) // warm up
const runs = sets.map((): number[] => [])
for (let i = 0; i < ROUNDS; i++) sets.forEach(([, rules], j) => runs[j]!.push(engine(rules)))
console.log(`engine, one thread, TypeScript's lib/ (${texts.length} files, ${(bytes / 1e6).toFixed(1)} MB), median of ${ROUNDS}, interleaved:`)
sets.forEach(([name], j) => console.log(`  ${name}: ${show(runs[j]!)}`))

const work = mkdtempSync(join(tmpdir(), 'leakgate-bench-speed-'))
try {
  const corpusDir = join(work, 'corpus')
  writeCorpus(corpusDir, { seed: 1, positives: 1200, negatives: 500 })
  const dirs: Array<[string, string]> = [
    ['node_modules/typescript', fileURLToPath(new URL('../node_modules/typescript/', import.meta.url))],
    ['labelled corpus (small files)', corpusDir],
  ]
  for (const [name, path] of dirs) {
    // Wall-clock MB/s, and MB per CPU-second of the whole process (every thread): on a shared machine
    // the second says what a scan costs, the first what it took. The first --jobs 2 scan of the process
    // starts the worker threads (a pool kept for the process's later scans), and is shown apart.
    const byJobs = new Map<number, { wall: number[]; cpu: number[] }>([[1, { wall: [], cpu: [] }], [2, { wall: [], cpu: [] }]])
    let cold = ''
    let info = ''
    const rounds = Math.max(3, Math.ceil(ROUNDS / 2))
    for (let i = 0; i < rounds + 1; i++) {
      for (const jobs of [1, 2]) {
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        const r = await scanSource({ type: 'dir', path }, { jobs })
        const mb = r.progress.bytes / 1e6
        const wall = mb / ((performance.now() - t0) / 1000)
        const used = process.cpuUsage(c0)
        const cpu = mb / ((used.user + used.system) / 1e6)
        info = `${r.progress.files} files, ${mb.toFixed(1)} MB, ${r.findings.length} findings`
        if (i === 0) {
          if (jobs === 2 && cold === '') cold = `${wall.toFixed(1)} MB/s (${cpu.toFixed(1)} MB per CPU-second)`
          continue
        }
        byJobs.get(jobs)!.wall.push(wall)
        byJobs.get(jobs)!.cpu.push(cpu)
      }
    }
    console.log(`end to end (list, read, scan, hash), ${name} (${info}), built-in rules, median of ${rounds}, interleaved:`)
    for (const [jobs, xs] of byJobs) console.log(`  --jobs ${jobs}: ${show(xs.wall)}; per CPU-second of the process ${show(xs.cpu)}`)
    const one = upperMedian(byJobs.get(1)!.wall)
    console.log(`  --jobs 2 / --jobs 1 (wall): ${(upperMedian(byJobs.get(2)!.wall) / one).toFixed(2)}; first --jobs 2 scan of the process (threads starting): ${cold}`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
