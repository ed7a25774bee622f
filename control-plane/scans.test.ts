import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Rng } from './detect/corpus/random.js'
import { PROVIDER_TOKENS } from './detect/corpus/tokens.js'
import { scanSource, type Finding } from './detect/index.js'
import { groupFindings, ScanService } from './scans.js'
import { openTestStore, tempDir } from './test/harness.js'

const rng = new Rng(99)

t.test('pushed findings become one leak a credential, titled and located as found, each found with the others of its file; a repeat push adds none', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, join(dir, 'data'))
  t.teardown(() => store.close())
  const scans = await ScanService.open(store, { cacheDir: join(dir, 'cache') })
  t.teardown(() => scans.close())
  const src = join(dir, 'src')
  mkdirSync(src)
  const github = PROVIDER_TOKENS.githubClassic!(rng).value
  const npm = PROVIDER_TOKENS.npm!(rng).value
  writeFileSync(join(src, 'ci.env'), `GITHUB_TOKEN=${github}\nNPM_TOKEN=${npm}\n`)
  writeFileSync(join(src, 'other.env'), `NPM_TOKEN=${PROVIDER_TOKENS.npm!(rng).value}\n`)
  const source = { type: 'dir', path: src } as const
  const { findings } = await scanSource(source)
  t.equal(findings.length, 3)

  const first = await scans.ingest(source, findings, 'key-1')
  t.match(first, { status: 'done', leaksCreated: 3, leaksUpdated: 0, progress: { files: 2 } })
  const leaks = (await store.leaks.list({ limit: 10 })).items
  const ci = leaks.filter((l) => l.location.path === 'ci.env').sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0))
  t.same(ci.map((l) => [l.title, l.kind, l.tokenCount, l.location]), [
    ['GitHub token in ci.env', 'github_pat', 1, { path: 'ci.env', line: 1 }],
    ['npm token in ci.env', 'npm_token', 1, { path: 'ci.env', line: 2 }],
  ], 'one leak a token, each of its own kind, titled by what and where')
  const [gh, np] = ci
  t.same((await store.leaks.get(gh!.id))?.foundWith, [{ id: np!.id, title: 'npm token in ci.env', kind: 'npm_token', status: 'open' }], 'found with the other token of its file')
  t.same((await store.leaks.get(np!.id))?.foundWith.map((f) => f.id), [gh!.id])
  const other = leaks.find((l) => l.location.path === 'other.env')
  t.same((await store.leaks.get(other!.id))?.foundWith, [], 'another file: found alone')

  const again = await scans.ingest(source, findings, 'key-1')
  t.match(again, { leaksCreated: 0, leaksUpdated: 3 })
  t.equal((await store.leaks.list({ limit: 10 })).total, 3)
  t.same((await scans.get(again.id))?.findings.map((f) => f.sha256), findings.map((f) => f.sha256), 'the record keeps the findings')
})

t.test('a leak an earlier version made of a whole file is updated by a rescan, not doubled', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, join(dir, 'data'))
  t.teardown(() => store.close())
  const scans = await ScanService.open(store, { cacheDir: join(dir, 'cache') })
  t.teardown(() => scans.close())
  const src = join(dir, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'settings.py'), `GITHUB_TOKEN = "${PROVIDER_TOKENS.githubClassic!(rng).value}"\nNPM_TOKEN = "${PROVIDER_TOKENS.npm!(rng).value}"\n`)
  const source = { type: 'dir', path: src } as const
  const { findings } = await scanSource(source)
  // What the earlier version stored: one leak of kind `multiple` under the file's fingerprint.
  const [legacy] = groupFindings(findings, source)
  await store.leaks.upsertFromFindings({
    source: 'dir', kind: 'multiple', title: 'multiple in settings.py', location: legacy!.location, fingerprint: legacy!.legacyFingerprint,
    tokens: findings.map((f) => ({ sha256: f.sha256, preview: f.preview, kind: f.kind })),
  }, 'scanner')

  const rescan = await scans.ingest(source, findings, 'key-1')
  t.match(rescan, { leaksCreated: 0, leaksUpdated: 2 })
  t.same((await store.leaks.list({ limit: 10 })).items.map((l) => l.title), ['multiple in settings.py'], 'the tokens stay with the leak they were decided on')

  const npm = PROVIDER_TOKENS.npm!(rng).value
  writeFileSync(join(src, 'settings.py'), `NPM_TOKEN = "${npm}"\n`, { flag: 'a' })
  const more = await scans.ingest(source, (await scanSource(source)).findings, 'key-1')
  t.match(more, { leaksCreated: 1, leaksUpdated: 2 }, 'a token the old leak never held is a leak of its own')
  t.equal((await store.leaks.list({ limit: 10 })).total, 2)
})

t.test('a scan left running by a stopped control plane is failed when the next one starts', async (t) => {
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  const id = await before.scans.start({ type: 'dir', path: '/srv/code' }, new Date().toISOString())
  t.equal((await before.scans.get(id))?.status, 'running')
  await before.close()

  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const scans = await ScanService.open(store, { cacheDir: join(dir, 'cache') })
  t.teardown(() => scans.close())
  t.match(await scans.get(id), { status: 'failed', error: 'the control plane stopped during the scan' })
  t.type((await scans.get(id))?.finishedAt, 'string')
})

t.test('the leak of a whole file an earlier version keyed is found again: git sources by the scanned URL, hosted ones by repository', async (t) => {
  const old = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 32)
  const finding = (source: string, repo: string | undefined): Finding => ({
    ruleId: 'github-pat', kind: 'github_pat', file: '.env', line: 1, column: 1, sha256: 'ab'.repeat(32), preview: 'ghp_…abcd',
    fingerprint: 'cd'.repeat(16), inHistoryOnly: false, source, location: { path: '.env', line: 1, ...(repo === undefined ? {} : { repo }) },
  })
  const url = 'https://github.com/acme/api.git'
  const [git] = groupFindings([finding('git', 'acme/api')], { type: 'git', url, history: true })
  t.equal(git?.legacyFingerprint, old(`git\0git:${url}\0.env`), 'a git source: keyed by its URL, as before repositories were named')
  const [hosted] = groupFindings([finding('github', 'acme/api')], { type: 'github', org: 'acme', history: true })
  t.equal(hosted?.legacyFingerprint, old('github\0acme/api\0.env'))
})
