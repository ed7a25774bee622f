/**
 * A shard of a source reads only its own units' content: the GitHub events source reads the commits of
 * its shard's repositories, npm its packages' packuments and tarballs, a paste feed its pastes' bodies.
 * Two shards of each, run to the end over the local fakes, read every item once between them and scan
 * what the whole source would, each from its own cursor row.
 */
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { openTestStore, tempDir } from '../test/harness.js'
import { GitHubEventsSource } from './github-events.js'
import { NpmChangesSource } from './npm-changes.js'
import { PasteFeedSource } from './paste-feed.js'
import { PublicSourceRunner } from './runner.js'
import type { ShardSpec } from './shard.js'
import type { PublicSource } from './source.js'
import { makeTar } from './tar-reader.js'
import { startFakeFeeds } from './test/fake-feeds.js'
import { startFakeGitHub } from './test/fake-github.js'

const rng = new Rng(1806)
const SHARDS: ShardSpec[] = [{ index: 1, count: 2 }, { index: 2, count: 2 }]

/** Runs each shard's source until it has nothing more now; the units each scanned. */
async function runShards(t: Test, make: (shard: ShardSpec) => PublicSource): Promise<number[]> {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const scanned: number[] = []
  for (const shard of SHARDS) {
    let n = 0
    for (let i = 0; i < 50; i++) {
      const outcome = await runner.runBatch(make(shard))
      n += outcome.scanned
      if (!outcome.more) break
    }
    scanned.push(n)
  }
  const rows = (await store.publicSources.list()).map((r) => r.sourceId).sort()
  t.same(rows, [`${make(SHARDS[0]!).id}#1/2`, `${make(SHARDS[0]!).id}#2/2`], 'a cursor row a shard')
  return scanned
}

/** How many times each of `paths` was asked for, of `seen`. */
function counts(seen: readonly string[], keep: (path: string) => boolean): number[] {
  const by = new Map<string, number>()
  for (const p of seen) if (keep(p)) by.set(p, (by.get(p) ?? 0) + 1)
  return [...by.values()]
}

t.test('github-events: each shard reads the commits of its repositories only', async (t) => {
  const fake = await startFakeGitHub(t)
  for (let i = 0; i < 16; i++) fake.push(`org${i}/app${i}`, [{ sha: rng.chars(40, '0123456789abcdef'), files: [{ filename: 'a.txt', status: 'added', patch: `@@ -0,0 +1 @@\n+line ${i} ${rng.chars(8, 'abcdefgh')}` }] }])
  const scanned = await runShards(t, (shard) => new GitHubEventsSource({ apiUrl: fake.api, shard }))
  const reads = counts(fake.seen.map((r) => r.path), (p) => p.startsWith('/repos/'))
  t.equal(reads.length, 16, 'every commit read')
  t.ok(reads.every((n) => n === 1), 'by one shard only')
  t.equal(scanned[0]! + scanned[1]!, 16, 'the shards scanned the whole feed between them')
  t.ok(scanned.every((n) => n > 0), `both shards had some (${scanned.join(', ')})`)
})

t.test('npm: each shard reads its packages\' packuments and tarballs only', async (t) => {
  const fake = await startFakeFeeds(t)
  for (let i = 0; i < 12; i++) {
    const pkg = `pkg-${i}-${rng.chars(6, 'abcdefgh')}`
    fake.packages.set(pkg, [{ version: '1.0.0', tarball: gzipSync(makeTar([{ path: 'package/index.js', data: `module.exports = ${i}\n` }])) }])
    fake.changes.push({ id: pkg })
  }
  const scanned = await runShards(t, (shard) => new NpmChangesSource({ registryUrl: fake.url, since: '0', pollSeconds: 1, shard }))
  const tarballs = counts(fake.seen, (p) => p.endsWith('.tgz'))
  t.equal(tarballs.length, 12, 'every tarball read')
  t.ok(tarballs.every((n) => n === 1), 'by one shard only')
  t.ok(counts(fake.seen, (p) => p.startsWith('/pkg-')).every((n) => n === 1), 'each packument by one shard only')
  t.equal(scanned[0]! + scanned[1]!, 12)
})

t.test('paste-feed: each shard reads its pastes\' bodies only', async (t) => {
  const fake = await startFakeFeeds(t)
  for (let i = 0; i < 12; i++) fake.pastes.push({ key: rng.chars(8, 'ABCDEFGHabcdefgh0123'), date: 1_764_583_000 + i, title: '', content: `paste ${i}\n` })
  const scanned = await runShards(t, (shard) => new PasteFeedSource({ listUrl: `${fake.url}/api_scraping.php`, limit: 100, pollSeconds: 1, shard }))
  const bodies = counts(fake.seen, (p) => !p.startsWith('/api_scraping.php'))
  t.equal(bodies.length, 12, 'every paste read')
  t.ok(bodies.every((n) => n === 1), 'by one shard only')
  t.equal(scanned[0]! + scanned[1]!, 12)
})
