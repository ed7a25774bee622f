import { gzipSync } from 'node:zlib'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, runMain, sqliteOnly, tempDir } from '../test/harness.js'
import { NpmChangesSource } from './npm-changes.js'
import { PublicSourceRunner } from './runner.js'
import { makeTar } from './tar-reader.js'
import { startFakeFeeds, type FakeFeeds } from './test/fake-feeds.js'
import { main } from './watch-cli.js'

const rng = new Rng(3141)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
/** Another provider's token (a Slack refresh token): not ours. */
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const name = (): string => `pkg-${expandSample('{lower:8}', rng)}`

/** Publishes `version` of `pkg` with `files` (under `package/`, as npm packs) and lists the change. */
function publish(fake: FakeFeeds, pkg: string, version: string, files: Record<string, string | Buffer>): void {
  const tarball = gzipSync(makeTar(Object.entries(files).map(([path, data]) => ({ path: `package/${path}`, data }))))
  fake.packages.set(pkg, [...fake.packages.get(pkg) ?? [], { version, tarball }])
  fake.changes.push({ id: pkg })
}

async function untilDue(store: Awaited<ReturnType<typeof openTestStore>>): Promise<void> {
  const wait = Date.parse(String((await store.publicSources.cursor('npm'))?.state.nextPollAt)) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

t.test('a published file with our token becomes a leak at the version\'s page and the file\'s path; binary files and other providers\' tokens are not kept; a restart resumes from the seq', async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const harmless = name()
  const leaky = `@acme/${name()}`
  publish(fake, harmless, '0.1.0', { 'package.json': '{"name":"x"}', 'index.js': 'module.exports = 1\n' })
  publish(fake, leaky, '2.0.0', {
    'package.json': '{"name":"y"}', 'lib/config.js': `module.exports = {\n  a: 1,\n  b: 2,\n  token: '${issued}',\n}\n`,
    'README.md': `# y\nslack: ${foreign}\n`, 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]),
  })
  fake.changes.push({ id: '_design/app' })
  const options = { registryUrl: fake.url, since: '0', maxChangesPerBatch: 2, pollSeconds: 1 }
  const first = await new PublicSourceRunner(store).runBatch(new NpmChangesSource(options))
  t.match(first, { units: 5, leaksCreated: 1, otherFindings: 1, more: true, cursor: '2' })
  t.ok(fake.seen.includes('/_changes?since=0&limit=2'))
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1, 'only our token is kept')
  const page = `https://www.npmjs.com/package/${leaky}/v/2.0.0`
  t.match(leaks[0], { source: 'npm', kind: 'issued_token', location: { repo: `npm:${leaky}@2.0.0`, repoUrl: page, path: 'lib/config.js', line: 4, url: page } })

  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const again = await new PublicSourceRunner(store).runBatch(new NpmChangesSource(options))
  t.match(again, { units: 0, more: false, cursor: '3' }, 'the design document is no package')
  t.ok(fake.seen.includes('/_changes?since=2&limit=2'), 'resumed from the seq')
  t.equal(fake.seen.filter((p) => p.endsWith('.tgz')).length, 2, 'no tarball read twice')
})

t.test('a failed read leaves the seq (a 500, a tarball or a feed cut off); a rate limit waits; an unpublished package and a broken tarball are skipped', async (t) => {
  const fake = await startFakeFeeds(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  fake.changes.push({ id: name() })
  const broken = name()
  fake.packages.set(broken, [{ version: '1.0.0', tarball: Buffer.from('not gzip at all') }])
  fake.changes.push({ id: broken })
  const runner = new PublicSourceRunner(store)
  const source = new NpmChangesSource({ registryUrl: fake.url, since: '0', pollSeconds: 1 })
  t.match(await runner.runBatch(source), { units: 0, cursor: '2', more: false })
  t.match((await store.publicSources.cursor('npm'))?.state, { unpublished: 1, unreadableTarballs: 1 })

  const leaky = name()
  publish(fake, leaky, '1.0.0', { 'a.txt': `x=${issued}\n` })
  const tgz = `/${leaky}/-/${leaky}-1.0.0.tgz`
  for (const [path, failure] of [[tgz, { status: 500 }], [tgz, { truncated: 'body' }], [`/${leaky}`, { status: 502 }], ['/_changes', { truncated: 'json' }]] as const) {
    await untilDue(store)
    fake.failures.set(path, [failure])
    await t.rejects(runner.runBatch(source), { code: 'LEAKGATE_ERR_PUBLIC_FEED' }, `${path} ${JSON.stringify(failure)} fails the batch`)
    t.equal((await store.publicSources.cursor('npm'))?.cursor, '2', 'the seq stays')
  }
  fake.failures.set(tgz, [{ rateLimit: 429, retryAfter: 2 }])
  t.match(await runner.runBatch(source), { units: 0, cursor: '2' }, 'a rate limit is no error')
  const wait = Date.parse(String((await store.publicSources.cursor('npm'))?.state.nextPollAt)) - Date.now()
  t.ok(wait > 1000 && wait <= 2000, `waits its Retry-After (${wait} ms)`)
  const asked = fake.seen.length
  t.match(await runner.runBatch(source), { units: 0, cursor: '2' })
  t.equal(fake.seen.length, asked, 'no request before the time')
  await untilDue(store)
  t.match(await runner.runBatch(source), { units: 1, leaksCreated: 1, cursor: '3' })
})

t.test('leakgate watch npm --registry-url URL --once', sqliteOnly, async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  await before.issuedHashes.add([sha256Hex(issued)])
  await before.close()
  publish(fake, name(), '1.0.0', { 'old.txt': `x=${issued}\n` })
  // From `now`: the change already there is not read; the next one is.
  const run = await runMain(main, ['npm', '--registry-url', fake.url, '--once', '--data-dir', dir])
  t.equal(run.code, 0, run.err)
  const leaky = name()
  publish(fake, leaky, '1.0.0', { 'new.txt': `x=${issued}\n` })
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  t.equal((await store.publicSources.cursor('npm'))?.cursor, '1')
  // The poll the first run set (60 s away) made due now, as if that time had passed.
  await store.publicSources.advance('npm', (await store.publicSources.cursor('npm'))!.version, { cursor: '1', state: {}, units: 0, bytes: 0 }, new Date().toISOString())
  await store.close()
  const second = await runMain(main, ['npm', '--registry-url', fake.url, '--once', '--data-dir', dir])
  t.equal(second.code, 0, second.err)
  const after = await openTestStore(t, dir)
  t.teardown(() => after.close())
  t.match((await after.leaks.list({})).items, [{ source: 'npm', location: { path: 'new.txt', url: `https://www.npmjs.com/package/${leaky}/v/1.0.0` } }])
})
