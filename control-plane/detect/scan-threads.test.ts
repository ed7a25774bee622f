import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveRules, scanSource } from './index.js'
import { ScanThreads } from './scan-threads.js'
import { scanText } from './scanner.js'
import { toFindings } from './findings.js'
import type { ScanItem } from './sources/source.js'
import { PROVIDER_TOKENS } from './corpus/tokens.js'
import { Rng } from './corpus/random.js'
import { tempDir, waitFor } from './test/helpers.js'

t.test('a directory scanned on two threads gives the findings of one thread, in the same order', async (t) => {
  const dir = tempDir(t, 'leakgate-threads-')
  const rng = new Rng(3)
  const names = Object.keys(PROVIDER_TOKENS)
  // Enough bytes for several batches (big files), and many small files that travel together.
  for (let d = 0; d < 6; d++) {
    mkdirSync(join(dir, `d${d}`))
    for (let f = 0; f < 60; f++) {
      const size = f % 20 === 0 ? 300_000 : rng.int(10, 2000)
      const lines: string[] = []
      let length = 0
      while (length < size) {
        const line = rng.int(0, 9) === 0 ? `key_${f} = "${PROVIDER_TOKENS[rng.pick(names)]!(rng).value}"` : `const v${length} = compute(${rng.int(0, 1e6)}) // filler text`
        lines.push(line)
        length += line.length + 1
      }
      writeFileSync(join(dir, `d${d}`, `f${f}.ts`), lines.join('\n'))
    }
  }
  const one = await scanSource({ type: 'dir', path: dir }, { jobs: 1 })
  const two = await scanSource({ type: 'dir', path: dir }, { jobs: 2 })
  t.ok(one.findings.length > 100, `the files hold findings (${one.findings.length})`)
  t.same(two.findings, one.findings)
  t.same(two.progress, one.progress)
})

t.test('a directory smaller than a batch is scanned without threads, and the same', async (t) => {
  const dir = tempDir(t, 'leakgate-threads-small-')
  const token = PROVIDER_TOKENS.githubClassic!(new Rng(4)).value
  writeFileSync(join(dir, 'a.env'), `GITHUB_TOKEN=${token}\n`)
  const one = await scanSource({ type: 'dir', path: dir }, { jobs: 1 })
  const four = await scanSource({ type: 'dir', path: dir }, { jobs: 4 })
  t.equal(one.findings.length, 1)
  t.same(four.findings, one.findings)
})

t.test('threads scan batches as this thread would, each batch answered in its own order', async (t) => {
  const rng = new Rng(8)
  const names = Object.keys(PROVIDER_TOKENS)
  const batches: ScanItem[][] = Array.from({ length: 6 }, (_, b) => Array.from({ length: 5 }, (_, f) => ({
    text: Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `token_${i} = "${PROVIDER_TOKENS[rng.pick(names)]!(rng).value}"` : `let x${i} = ${i}`)).join('\n'),
    origin: { source: 'dir', file: `b${b}/f${f}.ts` },
  })))
  const threads = new ScanThreads(2, { rulesFiles: [], allowlist: { regexes: [], paths: [], stopwords: [] }, showSecrets: false })
  t.teardown(() => threads.close())
  await waitFor('threads ready', () => threads.ready, 120_000)
  const answers = await Promise.all(batches.map((b) => threads.scan(b)))
  const { rules, allowlist } = resolveRules({})
  const expected = batches.map((b) => b.flatMap((item) => toFindings(scanText(item.text, { rules, allowlist, path: item.origin.file }), item.origin, false)))
  t.ok(expected.flat().length > 30, 'the batches hold findings')
  t.same(answers, expected)
})
