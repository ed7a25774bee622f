import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveRules, scanSource } from './index.js'
import { closeScanThreads, scanDirBatch, ScanThreads, scanThreadsReady, type RuleSources } from './scan-threads.js'
import type { DirFile } from './sources/dir.js'
import { PROVIDER_TOKENS } from './corpus/tokens.js'
import { Rng } from './corpus/random.js'
import { tempDir, waitFor } from './test/helpers.js'

/** What scanSource hands the pool for the built-in rules and no allowlist. */
const poolSources: RuleSources = { rulesFiles: [], allowlist: { regexes: [], paths: [], stopwords: [] }, showSecrets: false }

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

t.test('threads read and scan batches of files as this thread would, each batch answered in its own order', async (t) => {
  const dir = tempDir(t, 'leakgate-threads-batches-')
  const rng = new Rng(8)
  const names = Object.keys(PROVIDER_TOKENS)
  const batches: DirFile[][] = Array.from({ length: 6 }, (_, b) => Array.from({ length: 5 }, (_, f) => {
    const file = `b${b}-f${f}.ts`
    writeFileSync(join(dir, file), Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `token_${i} = "${PROVIDER_TOKENS[rng.pick(names)]!(rng).value}"` : `let x${i} = ${i}`)).join('\n'))
    return { path: join(dir, file), file, size: 0 }
  }))
  // A file that is gone by the time it is read, and a binary one: skipped, in their places.
  batches[1]!.splice(2, 0, { path: join(dir, 'gone.ts'), file: 'gone.ts', size: 0 })
  writeFileSync(join(dir, 'blob.bin'), Buffer.from([1, 0, 2]))
  batches[2]!.push({ path: join(dir, 'blob.bin'), file: 'blob.bin', size: 3 })
  const threads = new ScanThreads(2, { rulesFiles: [], allowlist: { regexes: [], paths: [], stopwords: [] }, showSecrets: false })
  t.teardown(() => threads.close())
  await waitFor('threads ready', () => threads.ready, 120_000)
  const limits = { maxFileSize: 1024 * 1024 }
  const answers = await Promise.all(batches.map((b) => threads.scan(b, limits)))
  const { rules, allowlist } = resolveRules({})
  const expected = await Promise.all(batches.map((b) => scanDirBatch(b, limits, { rules, allowlist, showSecrets: false })))
  t.ok(expected.flat().flatMap((o) => o?.findings ?? []).length > 30, 'the batches hold findings')
  t.equal(answers[1]![2], undefined, 'a missing file is skipped in its place')
  t.equal(answers[2]![5], undefined, 'a binary file is skipped in its place')
  t.same(answers, expected)
})

t.test('a second scan with the same rules reuses the threads the first one started', async (t) => {
  t.teardown(closeScanThreads)
  const dir = tempDir(t, 'leakgate-threads-pool-')
  const rng = new Rng(5)
  // More than the bytes after which a scan starts threads.
  for (let f = 0; f < 6; f++) writeFileSync(join(dir, `f${f}.txt`), `${'let filler = compute(1) // text\n'.repeat(30_000)}key = "${PROVIDER_TOKENS.githubClassic!(rng).value}"\n`)
  const first = await scanSource({ type: 'dir', path: dir }, { jobs: 2 })
  // --jobs 2: this thread and one worker.
  await waitFor('threads ready', () => scanThreadsReady(1, poolSources), 120_000)
  const second = await scanSource({ type: 'dir', path: dir }, { jobs: 2 })
  t.equal(first.findings.length, 6)
  t.same(second.findings, first.findings)
  t.same(second.progress, first.progress)
})
