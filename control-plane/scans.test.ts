import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Rng } from './detect/corpus/random.js'
import { PROVIDER_TOKENS } from './detect/corpus/tokens.js'
import { scanSource } from './detect/index.js'
import { ScanService } from './scans.js'
import { openTestStore, tempDir } from './test/harness.js'

const rng = new Rng(99)

t.test('pushed findings become one leak a file, located as the finding was; a repeat push adds none', async (t) => {
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
  t.match(first, { status: 'done', leaksCreated: 2, leaksUpdated: 0, progress: { files: 2 } })
  const leaks = (await store.leaks.list({ limit: 10 })).items
  const ci = leaks.find((l) => l.location.path === 'ci.env')
  t.equal(ci?.kind, 'multiple', 'two kinds in one file')
  t.equal(ci?.tokenCount, 2)
  t.same(ci?.location, { path: 'ci.env', line: 1 }, 'the first finding\'s location')

  const again = await scans.ingest(source, findings, 'key-1')
  t.match(again, { leaksCreated: 0, leaksUpdated: 2 })
  t.equal((await store.leaks.list({ limit: 10 })).total, 2)
  t.same((await scans.get(again.id))?.findings.map((f) => f.sha256), findings.map((f) => f.sha256), 'the record keeps the findings')
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
