/**
 * Detection quality on an independent corpus (bench/detect-corpus-independent.ts), through the
 * real scanner API on a directory and on a git repository with history.
 *
 *   node --import ./scripts/register-ts.js bench/detect-independent.bench.ts [seed]
 *
 * A finding matches a label when it is in the label's file and its value holds the labelled
 * value (or the other way round: a decoded `user:password` pair holds the password). Findings
 * that match no label are false positives; labels no finding matches are misses.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scanSource, type Finding } from '../control-plane/detect/index.js'
import { writeCorpus, writeHistoryRepo, type Label } from './detect-corpus-independent.js'

const pct = (n: number, d: number): string => `${d === 0 ? '-' : ((n / d) * 100).toFixed(1)} % (${n}/${d})`

function matches(f: Finding, l: Label): boolean {
  if (f.file !== l.file || f.secret === undefined) return false
  return f.secret.includes(l.value) || (f.secret.length >= 8 && l.value.includes(f.secret))
}

interface Score { found: Label[]; missed: Label[]; truePositives: Finding[]; falsePositives: Finding[] }

function score(findings: readonly Finding[], labels: readonly Label[]): Score {
  const byFile = new Map<string, Label[]>()
  for (const l of labels) byFile.set(l.file, [...(byFile.get(l.file) ?? []), l])
  const hit = new Set<Label>()
  const tp: Finding[] = []
  const fp: Finding[] = []
  for (const f of findings) {
    const ls = (byFile.get(f.file) ?? []).filter((l) => matches(f, l))
    if (ls.length === 0) fp.push(f)
    else {
      tp.push(f)
      for (const l of ls) hit.add(l)
    }
  }
  return { found: labels.filter((l) => hit.has(l)), missed: labels.filter((l) => !hit.has(l)), truePositives: tp, falsePositives: fp }
}

function perKind(labels: readonly Label[], missed: readonly Label[]): string {
  const total = new Map<string, number>()
  const miss = new Map<string, number>()
  for (const l of labels) total.set(l.kind, (total.get(l.kind) ?? 0) + 1)
  for (const l of missed) miss.set(l.kind, (miss.get(l.kind) ?? 0) + 1)
  return [...miss.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `    ${k}: missed ${n}/${total.get(k)}`).join('\n')
}

const seed = Number(process.argv[2] ?? 20_261_128)
const work = mkdtempSync(join(tmpdir(), 'leakgate-bench-independent-'))
try {
  const dir = join(work, 'tree')
  const corpus = writeCorpus(dir, { seed, positives: 1500, negatives: 600 })
  const { findings } = await scanSource({ type: 'dir', path: dir }, { showSecrets: true })
  const s = score(findings, corpus.labels)
  console.log(`independent corpus, seed ${seed}: ${corpus.files} files, ${(corpus.bytes / 1e6).toFixed(2)} MB, ${corpus.labels.length} planted secrets, ${findings.length} findings`)
  console.log(`  recall    ${pct(s.found.length, corpus.labels.length)}`)
  console.log(`  precision ${pct(s.truePositives.length, findings.length)}`)
  if (s.missed.length > 0) console.log(`  misses by kind:\n${perKind(corpus.labels, s.missed)}`)
  for (const m of s.missed.slice(0, 40)) console.log(`  missed ${m.kind}: ${m.file}`)
  const fpByCat = new Map<string, number>()
  for (const f of s.falsePositives) {
    const cat = corpus.negativeFiles.get(f.file) ?? 'positive file'
    fpByCat.set(`${cat} / ${f.ruleId}`, (fpByCat.get(`${cat} / ${f.ruleId}`) ?? 0) + 1)
  }
  for (const [k, n] of fpByCat) console.log(`  false positives ${k}: ${n}`)
  for (const f of s.falsePositives.slice(0, 40)) console.log(`  fp ${f.ruleId}: ${f.file}:${f.line} ${JSON.stringify(f.secret?.slice(0, 60))}`)

  const repo = join(work, 'repo')
  const h = writeHistoryRepo(repo, { seed: seed + 1, rounds: 240 })
  const hr = await scanSource({ type: 'git', url: repo, history: true }, { showSecrets: true, cacheDir: join(work, 'cache') })
  const only = h.labels.filter((l) => l.historyOnly === true)
  const hs = score(hr.findings, only)
  const all = score(hr.findings, h.labels)
  console.log(`history: ${h.commits} commits, ${h.labels.length} planted (${only.length} history-only), ${hr.findings.length} findings`)
  console.log(`  history-only recall ${pct(hs.found.length, only.length)}`)
  console.log(`  recall, all labels  ${pct(all.found.length, h.labels.length)}; precision ${pct(all.truePositives.length, hr.findings.length)}`)
  if (hs.missed.length > 0) console.log(`  history misses by kind:\n${perKind(only, hs.missed)}`)
  for (const m of hs.missed.slice(0, 20)) console.log(`  missed ${m.kind}: ${m.file}`)
  for (const f of all.falsePositives.slice(0, 20)) console.log(`  fp ${f.ruleId}: ${f.file}:${f.line} ${JSON.stringify(f.secret?.slice(0, 60))}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
