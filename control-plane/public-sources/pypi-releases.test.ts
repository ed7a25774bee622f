import { gzipSync } from 'node:zlib'
import { strToU8, zipSync } from 'fflate'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, runMain, sqliteOnly, tempDir } from '../test/harness.js'
import { PypiReleasesSource } from './pypi-releases.js'
import { PublicSourceRunner } from './runner.js'
import { makeTar } from './tar-reader.js'
import { startFakeFeeds } from './test/fake-feeds.js'
import { main } from './watch-cli.js'

const rng = new Rng(2718)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
/** Another provider's token (a Slack refresh token): not ours. */
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const name = (): string => `py-${expandSample('{lower:8}', rng)}`
const sdist = (project: string, version: string, files: Record<string, string | Buffer>): Buffer =>
  gzipSync(makeTar(Object.entries(files).map(([path, data]) => ({ path: `${project}-${version}/${path}`, data }))))
/** A wheel: a zip of the installed paths (`pkg/mod.py`, `{name}-{version}.dist-info/METADATA`). */
const wheel = (files: Record<string, string | Uint8Array>): Buffer =>
  Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([path, data]) => [path, typeof data === 'string' ? strToU8(data) : data]))))

async function untilDue(store: Awaited<ReturnType<typeof openTestStore>>): Promise<void> {
  const wait = Date.parse(String((await store.publicSources.cursor('pypi'))?.state.nextPollAt)) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

t.test('a released file with our token becomes a leak at the release\'s page; other providers\' tokens not kept; wheels read too; releases of one second all read; a restart resumes', async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const second = 1_764_583_205
  const leaky = name()
  const [a, b] = [name(), name()].sort()
  fake.releases.push(
    { name: leaky, version: '1.0.0', at: second - 3, wheel: wheel({ 'leaky/__init__.py': '__version__ = "1.0.0"\n' }), sdist: sdist(leaky, '1.0.0', { 'setup.py': 'from setuptools import setup\n', 'src/settings.py': `DEBUG = False\nTOKEN = "${issued}"\nSLACK = "${foreign}"\n` }) },
    { name: a!, version: '0.1', at: second, sdist: sdist(a!, '0.1', { 'README.md': 'hello\n' }) },
    { name: b!, version: '2.0rc1', at: second, sdist: sdist(b!, '2.0rc1', { 'copy.txt': `again ${issued}\n` }) },
  )
  const options = { indexUrl: fake.url, filesUrl: fake.url, maxReleasesPerBatch: 2, pollSeconds: 1 }
  const first = await new PublicSourceRunner(store).runBatch(new PypiReleasesSource(options))
  t.match(first, { units: 4, leaksCreated: 1, otherFindings: 1, more: true, cursor: `${second}|${a}@0.1` })
  const page = `${fake.url}/project/${leaky}/1.0.0/`
  t.match((await store.leaks.list({})).items, [{ source: 'pypi', kind: 'issued_token', location: { repo: `pypi:${leaky}@1.0.0`, path: 'src/settings.py', line: 2, url: page } }])
  t.ok(fake.seen.some((p) => p.endsWith('.whl')), 'the wheel downloaded')

  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  t.match(await new PublicSourceRunner(store).runBatch(new PypiReleasesSource(options)), { units: 1, leaksUpdated: 1, more: false, cursor: `${second}|${a}@0.1,${b}@2.0rc1` })
  t.equal(fake.seen.filter((p) => p.startsWith(`/pypi/${a}/`)).length, 1, 'a release handled is not read again')
})

t.test('a failed read leaves the cursor (a 500, an archive or the feed cut off); a rate limit waits; a removed release is skipped', async (t) => {
  const fake = await startFakeFeeds(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  const runner = new PublicSourceRunner(store)
  const source = new PypiReleasesSource({ indexUrl: fake.url, filesUrl: fake.url, pollSeconds: 1 })
  const gone = name()
  fake.releases.push({ name: name(), version: '0.9', at: 1_764_582_000 }, { name: gone, version: '1', at: 1_764_583_000, removed: true })
  t.match(await runner.runBatch(source), { units: 0, cursor: `1764583000|${gone}@1` })
  t.match((await store.publicSources.cursor('pypi'))?.state, { withoutArchive: 1, removed: 1 })

  const leaky = name()
  fake.releases.push({ name: leaky, version: '3.1', at: 1_764_583_100, sdist: sdist(leaky, '3.1', { 'a.cfg': `key=${issued}\n` }) })
  const archive = `/packages/${leaky}-3.1.tar.gz`
  for (const [path, failure] of [[archive, { status: 500 }], [archive, { truncated: 'body' }], [`/pypi/${leaky}`, { status: 503 }], ['/rss/', { truncated: 'json' }]] as const) {
    await untilDue(store)
    fake.failures.set(path, [failure])
    await t.rejects(runner.runBatch(source), { code: 'LEAKGATE_ERR_PUBLIC_FEED' }, `${path} ${JSON.stringify(failure)} fails the batch`)
    t.equal((await store.publicSources.cursor('pypi'))?.cursor, `1764583000|${gone}@1`, 'the cursor stays')
  }
  fake.failures.set(archive, [{ rateLimit: 429, retryAfter: 2 }])
  t.match(await runner.runBatch(source), { units: 0 }, 'a rate limit is no error')
  const wait = Date.parse(String((await store.publicSources.cursor('pypi'))?.state.nextPollAt)) - Date.now()
  t.ok(wait > 1000 && wait <= 2000, `waits its Retry-After (${wait} ms)`)
  await untilDue(store)
  t.match(await runner.runBatch(source), { units: 1, leaksCreated: 1, cursor: `1764583100|${leaky}@3.1` })
})

t.test('wheels: our token in one is a leak at package/version/path; a cut-off wheel and a zip bomb are skipped and counted, nothing else lost', async (t) => {
  const fake = await startFakeFeeds(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const [inWheel, inSdist, afterBomb] = [1, 2, 3].map(() => `acme_live_${expandSample('{a62:40}', rng)}`) as [string, string, string]
  await store.issuedHashes.add([inWheel, inSdist, afterBomb].map((x) => sha256Hex(x)))
  const [leaky, cut, bomb] = [name(), name(), name()]
  const whole = wheel({ 'cut/__init__.py': `X = 1\n${'# padding\n'.repeat(200)}` })
  fake.releases.push(
    { name: leaky, version: '2.0', at: 1_764_583_001, wheel: wheel({ [`${leaky}/__init__.py`]: '', [`${leaky}/config.py`]: `import os\n\nAPI_KEY = "${inWheel}"\n`, [`${leaky}-2.0.dist-info/METADATA`]: `Name: ${leaky}\n` }) },
    // Cut off when it was uploaded (served whole): that wheel is skipped, the release's sdist still read.
    { name: cut, version: '0.3', at: 1_764_583_002, wheel: whole.subarray(0, whole.length - 40), sdist: sdist(cut, '0.3', { 'settings.ini': `token=${inSdist}\n` }) },
    // 64 MiB of zeros in a few kB: refused before anything is inflated (8 × maxArchiveBytes at most).
    { name: bomb, version: '1', at: 1_764_583_003, wheel: wheel({ 'bomb/zeros.txt': new Uint8Array(64 * 1024 * 1024) }) },
    { name: name(), version: '5', at: 1_764_583_004, wheel: wheel({ 'later/keys.py': `K = "${afterBomb}"\n` }) },
  )
  const outcome = await new PublicSourceRunner(store).runBatch(new PypiReleasesSource({ indexUrl: fake.url, filesUrl: fake.url, maxArchiveBytes: 1024 * 1024 }))
  t.match(outcome, { leaksCreated: 3, more: false })
  const leaks = (await store.leaks.list({})).items
  t.match(leaks.find((l) => l.location.repo === `pypi:${leaky}@2.0`), { source: 'pypi', location: { path: `${leaky}/config.py`, line: 3, url: `${fake.url}/project/${leaky}/2.0/` } })
  t.match(leaks.find((l) => l.location.repo === `pypi:${cut}@0.3`), { location: { path: 'settings.ini' } }, 'the sdist beside a cut-off wheel is read')
  t.ok(leaks.some((l) => l.location.path === 'later/keys.py'), 'the release after the bomb is read')
  t.match((await store.publicSources.cursor('pypi'))?.state, { unreadableArchives: 2 })
  t.equal((await store.publicSources.cursor('pypi'))?.lastError, null)
})

t.test('leakgate watch pypi --index-url URL --once', sqliteOnly, async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  await before.issuedHashes.add([sha256Hex(issued)])
  await before.close()
  const leaky = name()
  fake.releases.push({ name: leaky, version: '1.0', at: 1_764_583_100, sdist: sdist(leaky, '1.0', { 'conf.ini': `token=${issued}\n` }) })
  const run = await runMain(main, ['pypi', '--index-url', fake.url, '--files-url', fake.url, '--once', '--data-dir', dir])
  t.equal(run.code, 0, run.err)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  t.match((await store.leaks.list({})).items, [{ source: 'pypi', location: { path: 'conf.ini', url: `${fake.url}/project/${leaky}/1.0/` } }])
})
