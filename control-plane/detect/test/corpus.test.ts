/**
 * Quality on the labelled corpus (corpus/generate.ts), through the public API as the CLI and the
 * control plane use it: recall and precision on working-tree files, recall on secrets that only
 * git history holds. Seeds differ from the benchmark's so the two are not tuned on one sample.
 */
import t from 'tap'
import { join } from 'node:path'
import { scanSource } from '../index.js'
import { writeCorpus, writeHistoryRepo } from '../corpus/generate.js'
import { score } from '../corpus/evaluate.js'
import { tempDir } from './helpers.js'

t.test('working tree: recall >= 95 %, precision >= 97 %, hard negatives silent', async (t) => {
  const dir = tempDir(t, 'leakgate-corpus-')
  const corpus = writeCorpus(dir, { seed: 20261128, positives: 180, negatives: 70 })
  const { findings, progress } = await scanSource({ type: 'dir', path: dir })
  t.equal(progress.files, corpus.files)
  const s = score(findings, corpus.labels)
  t.ok(s.recall >= 0.95, `recall ${(s.recall * 100).toFixed(1)} % (missed: ${s.missed.map((m) => `${m.path} ${m.kind}`).join(', ')})`)
  t.ok(s.precision >= 0.97, `precision ${(s.precision * 100).toFixed(1)} % (false: ${s.falsePositives.map((f) => `${f.file} ${f.ruleId}`).join(', ')})`)
  const negativeFiles = new Set(corpus.labels.map((l) => l.path))
  t.same(findings.filter((f) => !negativeFiles.has(f.file)).map((f) => `${f.file} ${f.ruleId}`), [], 'no finding in a hard-negative file')
})

t.test('history: >= 95 % of secrets that only history holds, marked inHistoryOnly', async (t) => {
  const dir = tempDir(t, 'leakgate-history-')
  const repo = join(dir, 'repo')
  const corpus = writeHistoryRepo(repo, { seed: 77, historical: 40, current: 5 })
  const { findings } = await scanSource({ type: 'git', url: repo, history: true }, { cacheDir: join(dir, 'cache') })
  const history = corpus.labels.filter((l) => l.history)
  const s = score(findings, history)
  t.ok(s.recall >= 0.95, `history recall ${(s.recall * 100).toFixed(1)} %`)
  const bySha = new Map(findings.map((f) => [f.sha256, f]))
  for (const l of corpus.labels) {
    t.equal(bySha.get(l.sha256)?.inHistoryOnly, l.history, `${l.path}: inHistoryOnly ${l.history}`)
  }
  t.ok(findings.some((f) => f.file === '(commit message)' && f.commit !== undefined), 'commit messages are scanned')
  // Without --history only the current files are read.
  const head = await scanSource({ type: 'git', url: repo, history: false }, { cacheDir: join(dir, 'cache') })
  t.same(new Set(head.findings.map((f) => f.sha256)), new Set(corpus.labels.filter((l) => !l.history).map((l) => l.sha256)))
})
