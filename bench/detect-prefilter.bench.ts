/**
 * The keyword prefilter, three ways, on the same keywords and texts in one process (rounds
 * interleaved, medians): one regex alternation of every keyword (the scanner's former prefilter),
 * the modern-ahocorasick package, and control-plane/detect/keywords.ts (a hand-written automaton).
 *
 *   node --import ./scripts/register-ts.js bench/detect-prefilter.bench.ts
 *
 * Keywords: every built-in rule's plus a synthetic provider set (bench/detect-synthetic.ts), ~700.
 * Texts: TypeScript's lib/*.js (real code) and the labelled corpus (config-heavy: .env, YAML, JSON).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import AhoCorasick from 'modern-ahocorasick'
import { builtinRules } from '../control-plane/detect/rules.js'
import { keywordMatcher } from '../control-plane/detect/keywords.js'
import { writeCorpus } from '../control-plane/detect/corpus/generate.js'
import { syntheticRules } from './detect-synthetic.js'
import { upperMedian } from './stats.js'


function regexPrefilter(keywords: string[]): (lower: string) => Set<string> {
  const all = [...keywords].sort((a, b) => b.length - a.length)
  const escape = (k: string): string => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const source = all.map(escape).join('|')
  const implied = new Map(all.map((k) => [k, all.filter((o) => k.includes(o))]))
  return (lower) => {
    const found = new Set<string>()
    const re = new RegExp(source, 'g')
    for (let hit = re.exec(lower); hit !== null; hit = re.exec(lower)) {
      if (!found.has(hit[0])) for (const k of implied.get(hit[0]) ?? [hit[0]]) found.add(k)
      if (found.size === all.length) break
      re.lastIndex = hit.index + 1
    }
    return found
  }
}

function packagePrefilter(keywords: string[]): (lower: string) => Set<string> {
  const ac = new AhoCorasick(keywords)
  return (lower) => new Set(ac.search(lower).map((m) => m.pattern))
}

const rules = [...builtinRules(), ...syntheticRules()]
const keywords = [...new Set(rules.flatMap((r) => r.keywords))]
const positional = new Set(rules.filter((r) => r.reach !== undefined).flatMap((r) => r.keywords))
const lib = fileURLToPath(new URL('../node_modules/typescript/lib/', import.meta.url))
const code = readdirSync(lib).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(lib, f), 'utf8').toLowerCase())
const work = mkdtempSync(join(tmpdir(), 'leakgate-bench-prefilter-'))
const corpusDir = join(work, 'corpus')
const corpus = writeCorpus(corpusDir, { seed: 1, positives: 1200, negatives: 500 })
const config: string[] = []
const walk = (d: string): void => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(d, e.name))
    else config.push(readFileSync(join(d, e.name), 'utf8').toLowerCase())
  }
}
walk(corpusDir)
rmSync(work, { recursive: true, force: true })

const hand = keywordMatcher(keywords, positional)
const ways: Array<[string, (lower: string) => Set<string>]> = [
  ['regex alternation', regexPrefilter(keywords)],
  ['modern-ahocorasick', packagePrefilter(keywords)],
  ['hand-written automaton (with positions)', (lower) => hand.find(lower).present],
]
console.log(`${rules.length} rules, ${keywords.length} keywords (${positional.size} positional)`)
for (const [name, texts] of [['TypeScript lib/*.js', code], [`corpus (${corpus.files} config-heavy files)`, config]] as const) {
  const bytes = texts.reduce((n, t) => n + t.length, 0)
  // Same answers first: a faster wrong prefilter is no candidate.
  const reference = texts.map((t) => [...ways[0]![1](t)].sort().join(' '))
  for (const [way, f] of ways) {
    const differs = texts.findIndex((t, i) => [...f(t)].sort().join(' ') !== reference[i])
    if (differs >= 0) console.log(`  ${way}: DIFFERENT keywords on text ${differs}`)
  }
  const runs = new Map<string, number[]>(ways.map(([w]) => [w, []]))
  for (let round = 0; round < 7; round++) {
    for (const [way, f] of ways) {
      const t0 = performance.now()
      for (const t of texts) f(t)
      runs.get(way)!.push(bytes / 1e6 / ((performance.now() - t0) / 1000))
    }
  }
  console.log(`${name}: ${(bytes / 1e6).toFixed(1)} MB, MB/s median of 7 interleaved rounds`)
  for (const [way, xs] of runs) console.log(`  ${way}: ${upperMedian(xs).toFixed(1)}  [${xs.map((x) => x.toFixed(0)).join(', ')}]`)
}
