import { gzipSync } from 'node:zlib'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { openTestStore, tempDir } from '../test/harness.js'
import { GHArchiveSource } from './gharchive.js'
import { GitHubEventsSource } from './github-events.js'
import { PublicSourceRunner } from './runner.js'
import { startFakeArchive } from './test/fake-archive.js'
import { startFakeGitHub, type FakeEvent } from './test/fake-github.js'

const rng = new Rng(1519)
const issued = `acme_live_${rng.chars(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`
const sha = (): string => rng.chars(40, '0123456789abcdef')

/** An hour file of `events`, one JSON a line, with a line that is not JSON among them (as real files have). */
function hourFile(events: FakeEvent[]): Buffer {
  const lines = events.map((e) => JSON.stringify(e))
  lines.splice(1, 0, '{"id": "1", "type": "PushEv')
  return gzipSync(`${lines.join('\n')}\n`)
}

t.test('GH Archive hours are read push by push, then the next hour; a hour not published waits; a cut-off file fails and the cursor stays', async (t) => {
  const github = await startFakeGitHub(t)
  const archive = await startFakeArchive(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])

  const leaky = sha()
  const quiet = github.push('old/quiet', [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: '@@ -0,0 +1 @@\n+nothing' }] }])
  const stars = github.watch('old/stars')
  const quiet2 = github.push('old/quiet2', [{ sha: sha(), files: [{ filename: 'b', status: 'added', patch: '@@ -0,0 +1 @@\n+nor here' }] }])
  const leakyId = github.push('old/leaky', [{ sha: leaky, files: [{ filename: 'cfg.yml', status: 'added', patch: `@@ -0,0 +1,2 @@\n+a: 1\n+token: ${issued}` }] }])
  const byId = (id: string): FakeEvent => github.events.find((e) => e.id === id)!
  archive.hours.set('2026-11-30-9.json.gz', hourFile([byId(quiet), byId(stars), byId(quiet2)]))
  archive.hours.set('2026-11-30-10.json.gz', gzipSync(`${JSON.stringify(byId(leakyId))}\n`))

  const options = { archiveUrl: archive.url, apiUrl: github.api, from: '2026-11-30-9', maxEventsPerBatch: 1, notPublishedWaitSeconds: 1 }
  const runner = new PublicSourceRunner(store)
  t.match(await runner.runBatch(new GHArchiveSource(options)), { units: 1, cursor: '2026-11-30-9:1', more: true }, 'the hour\'s first push')
  t.match(await store.publicSources.cursor('gharchive'), { state: { hour: '2026-11-30-9', malformedLines: 1 } })

  // A restart: a new source on the same store reads on from the cursor.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const again = new PublicSourceRunner(store)
  const source = new GHArchiveSource(options)
  t.match(await again.runBatch(source), { units: 1, cursor: '2026-11-30-10:0', more: true }, 'the hour\'s second push, then the next hour')
  t.match(await again.runBatch(source), { units: 1, leaksCreated: 1, cursor: '2026-11-30-11:0' })
  const leaks = (await store.leaks.list({})).items
  t.match(leaks, [{ source: 'github', location: { repo: 'old/leaky', commit: leaky, line: 2 } }])

  // The next hour is not published: no error, a wait.
  t.match(await again.runBatch(source), { units: 0, cursor: '2026-11-30-11:0', more: false })
  const waiting = await store.publicSources.cursor('gharchive')
  t.equal(waiting?.lastError, null)
  t.ok(Date.parse(String(waiting?.state.nextPollAt)) > Date.now(), 'asked again later')
  const asked = archive.asked.length
  t.match(await again.runBatch(source), { units: 0, cursor: '2026-11-30-11:0' })
  t.equal(archive.asked.length, asked, 'not before then')
  await new Promise((resolve) => setTimeout(resolve, Date.parse(String(waiting?.state.nextPollAt)) - Date.now() + 20))

  // Published, but cut off: the read fails and the cursor stays.
  const full = gzipSync(`${JSON.stringify(byId(leakyId))}\n`)
  archive.hours.set('2026-11-30-11.json.gz', full.subarray(0, full.length - 8))
  const later = new GHArchiveSource(options)
  await t.rejects(again.runBatch(later), /does not decompress/)
  t.match(await store.publicSources.cursor('gharchive'), { cursor: '2026-11-30-11:0', lastError: /does not decompress/ })

  // The same push read again (it was in the live feed too): its content is not scanned twice.
  const events = new GitHubEventsSource({ apiUrl: github.api })
  t.match(await again.runBatch(events), { units: 3, scanned: 0, leaksCreated: 0 }, 'the live feed\'s copy of those pushes is skipped')
})

t.test('hours are named as GH Archive names them', async (t) => {
  t.throws(() => new GHArchiveSource({ from: '2026-11-30-09' }), /YYYY-MM-DD-H/)
  t.throws(() => new GHArchiveSource({ from: '2026-11-30-24' }), /YYYY-MM-DD-H/)
  t.throws(() => new GHArchiveSource({ from: '2026-02-30-1' }), /YYYY-MM-DD-H/)
  t.doesNotThrow(() => new GHArchiveSource({ from: '2026-11-30-0' }))
})
