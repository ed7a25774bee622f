/**
 * The scanner against an older tree of itself, in one process, rounds interleaved: engine (scanText
 * over TypeScript's lib/) and end to end on one thread (scanSource of node_modules/typescript), in
 * wall-clock MB/s and in MB per CPU-second, which a machine shared with other work disturbs less.
 *
 *   git archive <commit> | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   BASE=/tmp/old R=3 node --import ./scripts/register-ts.js bench/detect-speed-ab.bench.ts
 */
import { fileURLToPath } from 'node:url'
import { typescriptLibTexts } from './typescript-lib.js'
import { upperMedian } from './stats.js'

const base = process.env.BASE
if (base === undefined || base === '') throw new Error('BASE=<a tree of the older commit> is needed')
const here = fileURLToPath(new URL('..', import.meta.url))
const load = async (root: string) => ({
  rules: (await import(`${root}/control-plane/detect/rules.ts`)).builtinRules,
  scanText: (await import(`${root}/control-plane/detect/scanner.ts`)).scanText,
  scanSource: (await import(`${root}/control-plane/detect/index.ts`)).scanSource,
})
const trees = { before: await load(base), after: await load(here) }
const { texts, bytes } = typescriptLibTexts()
const dir = fileURLToPath(new URL('../node_modules/typescript/', import.meta.url))
const rounds = Number(process.env.R ?? 3)
const res: Record<string, number[][]> = {}
const rec = (k: string, wall: number, cpu: number): void => { (res[k] ??= [[], []])[0]!.push(wall); res[k]![1]!.push(cpu) }
const rulesOf = { before: trees.before.rules(), after: trees.after.rules() }
for (let r = 0; r < rounds + 1; r++) {
  for (const name of ['before', 'after'] as const) {
    const t = trees[name]
    let c = process.cpuUsage(); let t0 = performance.now()
    for (const x of texts) t.scanText(x.text, { rules: rulesOf[name], path: x.path })
    let wall = (performance.now() - t0) / 1000; let d = process.cpuUsage(c)
    if (r > 0) rec(`engine ${name}`, bytes / 1e6 / wall, bytes / 1e6 / ((d.user + d.system) / 1e6))
    c = process.cpuUsage(); t0 = performance.now()
    const s = await t.scanSource({ type: 'dir', path: dir }, { jobs: 1 })
    wall = (performance.now() - t0) / 1000; d = process.cpuUsage(c)
    if (r > 0) rec(`e2e jobs1 ${name}`, s.progress.bytes / 1e6 / wall, s.progress.bytes / 1e6 / ((d.user + d.system) / 1e6))
  }
}
for (const [k, [w, c]] of Object.entries(res)) console.log(`${k}: wall ${upperMedian(w!).toFixed(1)} MB/s [${w!.map((x) => x.toFixed(1)).join(', ')}]  per CPU-second ${upperMedian(c!).toFixed(1)} MB/s [${c!.map((x) => x.toFixed(1)).join(', ')}]`)
