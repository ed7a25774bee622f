/**
 * Detection quality and speed.
 *
 *   node --import ./scripts/register-ts.js bench/detect.bench.ts
 *
 * Quality: a labelled corpus (control-plane/detect/corpus) with seeds the tests do not use:
 * recall and precision on working-tree files, recall on secrets only git history holds.
 * Speed: MB/s of the engine on real code (TypeScript's lib/, ~23 MB of JavaScript), all rules
 * against provider rules alone, alternated A B A B on one machine; and end to end (walk, read,
 * scan) on node_modules/typescript and on the corpus directory (many small files).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { scanSource } from '../control-plane/detect/index.js'
import { builtinRules } from '../control-plane/detect/rules.js'
import { scanText } from '../control-plane/detect/scanner.js'
import { providerRules } from '../control-plane/detect/detectors/providers.js'
import { writeCorpus, writeHistoryRepo } from '../control-plane/detect/corpus/generate.js'
import { score } from '../control-plane/detect/corpus/evaluate.js'
import { typescriptLibTexts } from './typescript-lib.js'
import { upperMedian } from './stats.js'

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`

async function quality(work: string): Promise<void> {
  const dir = join(work, 'corpus')
  const corpus = writeCorpus(dir, { seed: 1, positives: 1200, negatives: 500 })
  const started = performance.now()
  const { findings } = await scanSource({ type: 'dir', path: dir })
  const seconds = (performance.now() - started) / 1000
  const s = score(findings, corpus.labels)
  console.log(`corpus: ${corpus.files} files, ${(corpus.bytes / 1e6).toFixed(1)} MB, ${s.labels} planted secrets`)
  console.log(`  recall ${pct(s.recall)} (${s.found}/${s.labels}), precision ${pct(s.precision)} (${s.findings - s.falsePositives.length}/${s.findings})`)
  console.log(`  end to end (read + scan): ${(corpus.bytes / 1e6 / seconds).toFixed(1)} MB/s`)
  for (const m of s.missed.slice(0, 10)) console.log(`  missed: ${m.path} (${m.kind})`)
  for (const f of s.falsePositives.slice(0, 10)) console.log(`  false positive: ${f.file} (${f.ruleId})`)

  const repo = join(work, 'repo')
  const history = writeHistoryRepo(repo, { seed: 2, historical: 100, current: 10 })
  const h = await scanSource({ type: 'git', url: repo, history: true }, { cacheDir: join(work, 'cache') })
  const only = history.labels.filter((l) => l.history)
  const hs = score(h.findings, only)
  console.log(`history: ${h.progress.commits} commits; recall on history-only secrets ${pct(hs.recall)} (${hs.found}/${hs.labels}); precision over the repository ${pct(score(h.findings, history.labels).precision)}`)
}

function speed(): void {
  const { texts, bytes } = typescriptLibTexts()
  const all = builtinRules()
  const providers = providerRules()
  const run = (rules: typeof all): number => {
    const t0 = performance.now()
    let n = 0
    for (const t of texts) n += scanText(t.text, { rules, path: t.path }).length
    const s = (performance.now() - t0) / 1000
    if (n < 0) console.log(n)
    return bytes / 1e6 / s
  }
  run(all) // warm up
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < 5; i++) {
    a.push(run(all))
    b.push(run(providers))
  }
  console.log(`engine on real code (${texts.length} files, ${(bytes / 1e6).toFixed(1)} MB of TypeScript's lib/), median of 5, alternated:`)
  console.log(`  all ${all.length} rules: ${upperMedian(a).toFixed(1)} MB/s  [${a.map((x) => x.toFixed(1)).join(', ')}]`)
  console.log(`  ${providers.length} provider rules only: ${upperMedian(b).toFixed(1)} MB/s  [${b.map((x) => x.toFixed(1)).join(', ')}]`)
  console.log(`  ratio all/providers: ${(upperMedian(a) / upperMedian(b)).toFixed(2)}`)
}

async function endToEnd(): Promise<void> {
  const pkg = fileURLToPath(new URL('../node_modules/typescript/', import.meta.url))
  const runs: number[] = []
  let files = 0
  let bytes = 0
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    const { progress } = await scanSource({ type: 'dir', path: pkg })
    runs.push(progress.bytes / 1e6 / ((performance.now() - t0) / 1000))
    files = progress.files
    bytes = progress.bytes
  }
  console.log(`end to end, leakgate's dir source on node_modules/typescript (${files} files, ${(bytes / 1e6).toFixed(1)} MB), median of 3: ${upperMedian(runs).toFixed(1)} MB/s  [${runs.map((x) => x.toFixed(1)).join(', ')}]`)
}

const work = mkdtempSync(join(tmpdir(), 'leakgate-bench-detect-'))
try {
  await quality(work)
  speed()
  await endToEnd()
} finally {
  rmSync(work, { recursive: true, force: true })
}
